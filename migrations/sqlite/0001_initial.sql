-- Switchboard schema, SQLite flavour. Kept in lock-step with migrations/postgres.
-- Timestamps are RFC 3339 UTC text written by the application; UUIDs are 16-byte blobs.

CREATE TABLE admin_users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    full_name     TEXT,
    is_active     INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at    TEXT    NOT NULL
);
-- Uniqueness ignores case, so "Ada" and "ada" cannot both register.
CREATE UNIQUE INDEX ux_admin_users_username ON admin_users (lower(username));
CREATE UNIQUE INDEX ux_admin_users_email ON admin_users (lower(email));

CREATE TABLE refresh_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    admin_id   INTEGER NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    expires_at TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE INDEX ix_refresh_tokens_admin ON refresh_tokens (admin_id);

CREATE TABLE client_info (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    phone      TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE chat_sessions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id        BLOB    NOT NULL UNIQUE,
    client_info_id    INTEGER NOT NULL REFERENCES client_info (id),
    state             TEXT    NOT NULL DEFAULT 'AI' CHECK (state IN ('AI', 'HUMAN', 'CLOSED')),
    assigned_admin_id INTEGER REFERENCES admin_users (id),
    queued_at         TEXT,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    closed_at         TEXT
);
-- The queue: HUMAN sessions without an agent, oldest handoff first.
CREATE INDEX ix_chat_sessions_queue ON chat_sessions (state, assigned_admin_id, queued_at);
CREATE INDEX ix_chat_sessions_created ON chat_sessions (created_at);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id      INTEGER NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    sender_type     TEXT    NOT NULL CHECK (sender_type IN ('CLIENT', 'AI', 'ADMIN')),
    sender_admin_id INTEGER REFERENCES admin_users (id),
    content         TEXT    NOT NULL,
    client_msg_id   TEXT,
    created_at      TEXT    NOT NULL,
    UNIQUE (session_id, client_msg_id)
);
CREATE INDEX ix_messages_history ON messages (session_id, id);
