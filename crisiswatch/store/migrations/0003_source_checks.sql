-- From the crawlers' work on real sites (#15): what `crisiswatch sources check` found per target, and
-- the pool cookies put aside for good once a site said they expired.

CREATE TABLE IF NOT EXISTS source_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS source_checks_source ON source_checks(source, id);
CREATE TABLE IF NOT EXISTS session_quarantine (
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    label TEXT NOT NULL,
    at TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (source, fingerprint)
);
