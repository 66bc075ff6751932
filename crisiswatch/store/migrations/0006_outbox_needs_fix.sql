-- An alert held until a person fixes something (a refused token, a bot removed from its channel, a robot
-- URL the deliverer's environment lacks) says so in its own column, where it was a `needs a fix: ` prefix
-- on last_error. `status`, `alerts outbox`, `alerts retry` and the deliverer read the column; last_error
-- keeps only what to fix.

ALTER TABLE outbox ADD COLUMN needs_fix INTEGER NOT NULL DEFAULT 0;
UPDATE outbox SET needs_fix = 1, last_error = SUBSTR(last_error, 14) WHERE last_error LIKE 'needs a fix: %';
-- every delivered alert asks whether its channel has held ones to wake: a small index of the held ones
CREATE INDEX IF NOT EXISTS outbox_needs_fix ON outbox(channel, target) WHERE needs_fix = 1;
