-- Counters behind the rate limits that must hold across instances and restarts: failed logins
-- per account and address (with the time their block ends), sessions opened per
-- address. A row is forgotten once its window has passed.
CREATE TABLE rate_limits (
    key               TEXT        NOT NULL PRIMARY KEY,
    count             BIGINT      NOT NULL,
    window_started_at TIMESTAMPTZ NOT NULL,
    unblocked_at      TIMESTAMPTZ
);
