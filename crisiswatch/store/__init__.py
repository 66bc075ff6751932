"""The state store, chosen by URL: SQLite (`sqlite:///crisiswatch.db`, or a plain path; the default)
or PostgreSQL (`postgresql://user@host/dbname`, the password from $PGPASSWORD or ~/.pgpass).

Both give the modules one surface: `execute(sql, params)` with `?` placeholders, rows by position
and by name, autocommit outside `transaction()`, one schema brought up to date on connect
(`crisiswatch.store.migrate`). The mention index is separate (`index.url`, index/).
"""
