-- Workers past one machine: every `crisiswatch run` process registers and beats here (`status` lists
-- the live ones and what each holds), and crawl schedules are shared, so two crawl workers never
-- crawl one source twice in one interval.

CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,          -- host:pid:role:random, also the holder name of its leases
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    role TEXT NOT NULL,
    started_at TEXT NOT NULL,
    beat_at TEXT NOT NULL,
    doing TEXT NOT NULL DEFAULT '',  -- the stage it is in now ("crawl weibo_search", "detect", "idle")
    stopped_at TEXT
);
CREATE INDEX IF NOT EXISTS workers_beat ON workers(beat_at);
CREATE TABLE IF NOT EXISTS crawl_schedule (
    spider TEXT PRIMARY KEY,
    next_at TEXT NOT NULL,         -- not crawled again before this (the interval, or the back-off after a block)
    failures INTEGER NOT NULL DEFAULT 0,
    last_by TEXT NOT NULL DEFAULT '',
    last_code INTEGER
);
