-- Switchboard schema, PostgreSQL flavour. Kept in lock-step with migrations/sqlite.

CREATE TABLE admin_users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT        NOT NULL,
    email         TEXT        NOT NULL,
    password_hash TEXT        NOT NULL,
    full_name     TEXT,
    is_active     BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL
);
-- Uniqueness ignores case, so "Ada" and "ada" cannot both register.
CREATE UNIQUE INDEX ux_admin_users_username ON admin_users (lower(username));
CREATE UNIQUE INDEX ux_admin_users_email ON admin_users (lower(email));

CREATE TABLE refresh_tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    admin_id   BIGINT      NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    token_hash TEXT        NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_refresh_tokens_admin ON refresh_tokens (admin_id);

CREATE TABLE client_info (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT        NOT NULL,
    email      TEXT        NOT NULL,
    phone      TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE chat_sessions (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id        UUID        NOT NULL UNIQUE,
    client_info_id    BIGINT      NOT NULL REFERENCES client_info (id),
    state             TEXT        NOT NULL DEFAULT 'AI' CHECK (state IN ('AI', 'HUMAN', 'CLOSED')),
    assigned_admin_id BIGINT REFERENCES admin_users (id),
    queued_at         TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    closed_at         TIMESTAMPTZ
);
-- The queue: HUMAN sessions without an agent, oldest handoff first.
CREATE INDEX ix_chat_sessions_queue ON chat_sessions (state, assigned_admin_id, queued_at);
CREATE INDEX ix_chat_sessions_created ON chat_sessions (created_at);

CREATE TABLE messages (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id      BIGINT      NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    sender_type     TEXT        NOT NULL CHECK (sender_type IN ('CLIENT', 'AI', 'ADMIN')),
    sender_admin_id BIGINT REFERENCES admin_users (id),
    content         TEXT        NOT NULL,
    client_msg_id   TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (session_id, client_msg_id)
);
CREATE INDEX ix_messages_history ON messages (session_id, id);
