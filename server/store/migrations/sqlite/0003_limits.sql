-- Per-person limits count a person's handoffs and open sessions; a lost answer to a
-- redemption can be retried by the client that made it (its request id's hash is kept
-- with the session, and the used token names its session).

ALTER TABLE activation_sessions ADD COLUMN request_hash BLOB;
ALTER TABLE used_handoffs ADD COLUMN activation_id TEXT;

CREATE INDEX used_handoffs_person ON used_handoffs (person_id, used_at);
CREATE INDEX activation_sessions_person ON activation_sessions (person_id, expires_at);
