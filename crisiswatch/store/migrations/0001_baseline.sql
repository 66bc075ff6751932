-- The state schema as it stood when every module still created its own tables (ensure_schema).
-- Applied to a new database it creates them; applied to a SQLite file from that time it adds the
-- columns an older release lacked first (see crisiswatch/store/migrate.py), then creates what is missing.
-- Written in the portable subset: INTEGER, REAL and AUTOINCREMENT keys are translated for PostgreSQL.

-- crisiswatch.brand_names
CREATE TABLE IF NOT EXISTS brand_names (
    key TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- crisiswatch.audit
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_subject ON audit_log(subject, id);

-- crisiswatch.deadletter
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    stage TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_stage ON dead_letters(stage, at);

-- crisiswatch.lease
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- crawlers.state
CREATE TABLE IF NOT EXISTS crawl_marks (
    source TEXT NOT NULL,
    query TEXT NOT NULL,
    newest_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source, query)
);
CREATE TABLE IF NOT EXISTS source_health (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    source TEXT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS source_health_source ON source_health(source, id);
CREATE TABLE IF NOT EXISTS crawl_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    reason TEXT,
    items INTEGER NOT NULL DEFAULT 0,
    pages INTEGER NOT NULL DEFAULT 0
);

-- crawlers.x.collector
CREATE TABLE IF NOT EXISTS x_since (
    query TEXT PRIMARY KEY,
    since_id TEXT NOT NULL,  -- '' before the first complete run
    updated_at TEXT NOT NULL,
    backlog_until TEXT,  -- unread: tweets older than this (and newer than since_id)
    backlog_newest TEXT  -- where since_id goes once the backlog is read
);

-- monitor.detection
CREATE TABLE IF NOT EXISTS detector_state (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- monitor.incidents.models
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    rule TEXT NOT NULL,
    brand TEXT NOT NULL,
    level TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_fired_at TEXT NOT NULL,
    resolved_at TEXT,
    peak_value REAL NOT NULL,
    baseline REAL NOT NULL,
    signals INTEGER NOT NULL DEFAULT 1,
    summary TEXT NOT NULL,
    facts TEXT NOT NULL DEFAULT '{}',
    acked_by TEXT,
    acked_at TEXT,
    muted_until TEXT,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents(status, key);
CREATE TABLE IF NOT EXISTS incident_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS incident_events_incident ON incident_events(incident_id, id);

-- monitor.enrich.steps
CREATE TABLE IF NOT EXISTS neardup (
    key TEXT PRIMARY KEY,
    simhash INTEGER NOT NULL,
    cluster_id TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS neardup_at ON neardup(at);
-- monitor.dashboard.sessions
CREATE TABLE IF NOT EXISTS dashboard_sessions (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    credential TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    agent TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    ended_at TEXT,
    ended_why TEXT
);
CREATE INDEX IF NOT EXISTS dashboard_sessions_user ON dashboard_sessions(username, ended_at);
CREATE TABLE IF NOT EXISTS login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    address TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_user ON login_failures(username, at);
CREATE INDEX IF NOT EXISTS login_failures_address ON login_failures(address, at);

-- monitor.slack_app
CREATE TABLE IF NOT EXISTS slack_seen_requests (
    signature TEXT PRIMARY KEY,
    at REAL NOT NULL
);

-- alerts.channels.slack_ids
CREATE TABLE IF NOT EXISTS slack_channels (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    seen_at TEXT NOT NULL
);

-- alerts.outbox
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    external_id TEXT,
    thread_id TEXT,
    thread_key TEXT,
    in_flight INTEGER NOT NULL DEFAULT 0,
    lease_holder TEXT,
    lease_until TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(status, next_attempt_at);
CREATE TABLE IF NOT EXISTS alert_threads (
    thread_key TEXT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    PRIMARY KEY (thread_key, channel, target)
);

-- alerts.approvals
CREATE TABLE IF NOT EXISTS approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    approvers TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    requested_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT
);

-- alerts.escalation
CREATE TABLE IF NOT EXISTS escalation_chains (
    incident_id INTEGER NOT NULL,
    policy TEXT NOT NULL,
    status TEXT NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,
    loop INTEGER NOT NULL DEFAULT 0,
    round INTEGER NOT NULL DEFAULT 0,
    next_at TEXT,
    started_at TEXT NOT NULL,
    acked_by TEXT,
    acked_at TEXT,
    PRIMARY KEY (incident_id, policy)
);
CREATE INDEX IF NOT EXISTS escalation_due ON escalation_chains(status, next_at);

-- alerts.operator
CREATE TABLE IF NOT EXISTS alert_cursors (
    name TEXT PRIMARY KEY,
    last_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS heartbeats (
    name TEXT PRIMARY KEY,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deadman_watch (
    name TEXT PRIMARY KEY,
    first_checked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dependency_health (
    name TEXT PRIMARY KEY,
    down_since TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    alerted_at TEXT
);

-- playbooks.engine
CREATE TABLE IF NOT EXISTS playbook_runs (
    incident_id INTEGER NOT NULL,
    playbook TEXT NOT NULL,
    step INTEGER NOT NULL,
    type TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    at TEXT NOT NULL,
    PRIMARY KEY (incident_id, playbook, step)
);
CREATE INDEX IF NOT EXISTS playbook_runs_waiting ON playbook_runs(outcome);

-- playbooks.statements
CREATE TABLE IF NOT EXISTS statements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL,
    playbook TEXT NOT NULL,
    ticket_number TEXT NOT NULL DEFAULT '',
    template TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'draft',
    approvers TEXT NOT NULL DEFAULT '',
    approval_id TEXT,
    incident_start TEXT NOT NULL,
    ready_at TEXT NOT NULL,
    window_minutes INTEGER NOT NULL,
    missed_window INTEGER NOT NULL DEFAULT 0,
    decided_by TEXT,
    decided_at TEXT,
    published_by TEXT,
    published_at TEXT,
    UNIQUE (incident_id, playbook)
);

-- playbooks.tickets.models
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    brand TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT 'other',
    severity TEXT NOT NULL,
    department TEXT NOT NULL DEFAULT '客服',
    departments TEXT NOT NULL DEFAULT '[]',
    channel TEXT NOT NULL DEFAULT '',
    incident_id INTEGER,
    source_url TEXT NOT NULL DEFAULT '',
    author_handle TEXT NOT NULL DEFAULT '',
    author_id TEXT NOT NULL DEFAULT '',
    order_no TEXT NOT NULL DEFAULT '',
    evidence TEXT NOT NULL DEFAULT '[]',
    tasks TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    ack_due TEXT NOT NULL,
    response_due TEXT NOT NULL,
    feedback_due TEXT NOT NULL,
    resolve_due TEXT NOT NULL,
    acked_at TEXT,
    first_reply_at TEXT,
    resolved_at TEXT,
    followed_up_at TEXT,
    closed_at TEXT,
    replies INTEGER NOT NULL DEFAULT 0,
    reopened INTEGER NOT NULL DEFAULT 0,
    satisfaction INTEGER,
    satisfaction_comment TEXT NOT NULL DEFAULT '',
    breaches INTEGER NOT NULL DEFAULT 0,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    customer TEXT NOT NULL DEFAULT '',
    contact TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    expectation TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    reply_channel TEXT NOT NULL DEFAULT '',
    sla_start TEXT,
    followup_due TEXT,
    extension_approved_by TEXT NOT NULL DEFAULT '',
    satisfaction_history TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS tickets_incident ON tickets(incident_id);
CREATE INDEX IF NOT EXISTS tickets_status ON tickets(status, created_at);
CREATE INDEX IF NOT EXISTS tickets_author ON tickets(author_id, created_at);
CREATE INDEX IF NOT EXISTS tickets_owner ON tickets(owner, status);
CREATE TABLE IF NOT EXISTS ticket_mentions (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    mention_id TEXT NOT NULL,
    cluster_id TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (ticket_id, mention_id)
);
CREATE INDEX IF NOT EXISTS ticket_mentions_cluster ON ticket_mentions(cluster_id);
CREATE INDEX IF NOT EXISTS ticket_mentions_mention ON ticket_mentions(mention_id);
CREATE TABLE IF NOT EXISTS ticket_sequence (
    day TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ticket_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS ticket_events_ticket ON ticket_events(ticket_id, id);
CREATE TABLE IF NOT EXISTS ticket_links (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    related_id INTEGER NOT NULL REFERENCES tickets(id),
    reason TEXT NOT NULL,
    PRIMARY KEY (ticket_id, related_id)
);
CREATE TABLE IF NOT EXISTS ticket_sla_marks (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    timer TEXT NOT NULL,
    kind TEXT NOT NULL,
    due TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (ticket_id, timer, kind, due)
);

-- playbooks.tickets.mirror
CREATE TABLE IF NOT EXISTS ticket_mirror (
    ticket_id INTEGER NOT NULL, system TEXT NOT NULL, ref_id TEXT NOT NULL, ref_version TEXT NOT NULL,
    PRIMARY KEY (ticket_id, system)
);
-- index.spool
CREATE TABLE IF NOT EXISTS index_spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    at TEXT NOT NULL,
    size INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS index_spool_target ON index_spool(target, seq);
