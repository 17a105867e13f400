-- What an LLM provider needs echoed back in later requests for an assistant message (Gemini's
-- raw parts with their thought signatures, OpenAI's tool calls), as JSON; NULL for most rows.
ALTER TABLE messages ADD COLUMN provider_data TEXT;
