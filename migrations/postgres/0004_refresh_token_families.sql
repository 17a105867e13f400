-- Refresh-token families: each login starts a family; a refresh marks its token used and issues
-- the next one in the same family. A used token presented again is taken as theft and revokes
-- the whole family. Tokens issued before families existed are dropped (agents sign in again).
DELETE FROM refresh_tokens;
ALTER TABLE refresh_tokens ADD COLUMN family_id TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN used_at TIMESTAMPTZ;
CREATE INDEX ix_refresh_tokens_family ON refresh_tokens (family_id);
