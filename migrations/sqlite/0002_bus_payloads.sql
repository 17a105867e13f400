-- Large event payloads for the PostgreSQL bus. SQLite runs a single node with an in-process
-- bus and never writes here; the table exists to keep the two schemas in lock-step.
CREATE TABLE bus_payloads (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    payload    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX ix_bus_payloads_created ON bus_payloads (created_at);
