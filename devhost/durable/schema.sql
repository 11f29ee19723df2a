-- The devhost task hub: one SQLite file (WAL), several hubs side by side (every table keyed by hub).
-- Shape after microsoft/durabletask-go backend/sqlite/schema.sql: instances, append-only history,
-- an orchestration inbox (new events; timers are rows whose visible_at lies in the future) and
-- activity work items with a lock column. Times: instance times are UTC text
-- 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (sortable); visible_at is Unix seconds (REAL).

CREATE TABLE IF NOT EXISTS instances (
    hub                TEXT NOT NULL,
    instance_id        TEXT NOT NULL,
    execution_id       TEXT NOT NULL,
    name               TEXT NOT NULL,
    version            TEXT,
    runtime_status     TEXT NOT NULL,
    input              TEXT,
    output             TEXT,
    custom_status      TEXT,
    failure_details    TEXT,
    parent_instance_id TEXT,
    created_time       TEXT NOT NULL,
    last_updated_time  TEXT NOT NULL,
    completed_time     TEXT,
    PRIMARY KEY (hub, instance_id)
);
CREATE INDEX IF NOT EXISTS ix_instances_created ON instances (hub, created_time, instance_id);

CREATE TABLE IF NOT EXISTS history (
    hub         TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    event       TEXT NOT NULL,      -- DTFx-shaped JSON, IsPlayed true
    PRIMARY KEY (hub, instance_id, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    hub         TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    kind        INTEGER NOT NULL,   -- the event's EventType (0 start, 3 terminate, 11 timer, 15 event ...)
    timer_id    INTEGER,            -- TimerFired rows: the timer's sequence number (for cancellation)
    visible_at  REAL NOT NULL,      -- Unix seconds; a delayed message (durable timer) until then
    event       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_inbox_visible ON inbox (hub, visible_at);
DROP INDEX IF EXISTS ix_inbox_instance;
CREATE INDEX IF NOT EXISTS ix_inbox_by_instance ON inbox (hub, instance_id, visible_at);

CREATE TABLE IF NOT EXISTS activities (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    hub          TEXT NOT NULL,
    instance_id  TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id      INTEGER NOT NULL,
    name         TEXT NOT NULL,
    input        TEXT,
    locked       INTEGER NOT NULL DEFAULT 0,  -- 1 while a worker runs it; reset at start (at-least-once)
    dequeue_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_activities_ready ON activities (hub, locked, id);
CREATE INDEX IF NOT EXISTS ix_activities_instance ON activities (hub, instance_id);
