"""Route tables: session (login/logout), dashboard (page, JSON, server-sent events), console (mentions, tickets)."""
