-- Event payloads too large for NOTIFY (8,000 bytes): written in the publishing transaction,
-- announced by id, fetched by every node, pruned after a while.
CREATE TABLE bus_payloads (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payload    TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_bus_payloads_created ON bus_payloads (created_at);
