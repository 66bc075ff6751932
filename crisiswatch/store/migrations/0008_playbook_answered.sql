-- Which incident changes the playbooks have answered: the level each incident was last handled at.
-- The engine writes it once every matching playbook ran for an opening or an escalation; each pass
-- answers the open incidents whose row is missing or lower, so a process killed between writing an
-- incident and running its playbooks (or between two steps) leaves no playbook unstarted.
-- Incidents from before this file are taken as answered at their current level.

CREATE TABLE IF NOT EXISTS playbook_answered (
    incident_id INTEGER PRIMARY KEY,
    level TEXT NOT NULL,
    at TEXT NOT NULL
);
INSERT INTO playbook_answered(incident_id, level, at) SELECT id, level, updated_at FROM incidents;
