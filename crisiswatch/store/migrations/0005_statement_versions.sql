-- A rejected or expired holding statement is revised (or sent as it was) and its approvers are asked
-- again: the statement keeps its id and its golden window, its `version` counts the rounds, and each
-- earlier round stays readable here with the text that was put to the approvers and their decision.

ALTER TABLE statements ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE TABLE IF NOT EXISTS statement_versions (
    statement_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,            -- the decision on that text: rejected or expired
    approval_id TEXT,
    decided_by TEXT,
    decided_at TEXT,
    replaced_by TEXT NOT NULL,       -- who revised it or asked again
    replaced_at TEXT NOT NULL,
    change TEXT NOT NULL,            -- revised (new text) or resubmitted (the same text)
    PRIMARY KEY (statement_id, version)
);
