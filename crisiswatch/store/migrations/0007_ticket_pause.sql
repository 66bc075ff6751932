-- A ticket waiting for the customer (补充材料, 确认方案) has its SLA clocks stopped: `ticket pause` sets when
-- the wait began, `ticket resume` moves every running deadline later by the working time it lasted and
-- clears it. While it is set no timer of the ticket is late, reminded or breached.

ALTER TABLE tickets ADD COLUMN paused_at TEXT;
