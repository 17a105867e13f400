-- The customer's language (en, es, fr, de, pt): set by the widget when the session starts and
-- updated from the customer's messages; what Switchboard's own texts to them are written in.
-- NULL until known (English is used).
ALTER TABLE chat_sessions ADD COLUMN language TEXT;
-- What the agent who takes over should know, written at hand-off (the customer's key messages
-- and the topics the assistant matched) and replaced by an LLM's two sentences when one is
-- configured. NULL for sessions never handed off.
ALTER TABLE chat_sessions ADD COLUMN summary TEXT;
