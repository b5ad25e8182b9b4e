-- Self-service at MitID.dk (docs/selfservice.md): changing the password is a logon
-- challenge of its own purpose, begun from a MitID.dk session. It proves the old
-- password as a logon does (and counts toward the same lock), then records the new
-- password's verifier, which the chip's press approves.
--
-- purpose is '' for a logon (MitID.dk or an OIDC authorization request) and
-- 'password_change' for a change of password; a logon never finishes a challenge of
-- another purpose, nor the reverse. new_salt and new_kdf_* are the new password's
-- Argon2id salt and cost, chosen by the server at begin; new_verifier is the
-- verifier the page derived from the new password (NULL until it is given).
ALTER TABLE logon_challenges ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
ALTER TABLE logon_challenges ADD COLUMN new_salt BYTEA;
ALTER TABLE logon_challenges ADD COLUMN new_kdf_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE logon_challenges ADD COLUMN new_kdf_memory_kib BIGINT NOT NULL DEFAULT 0;
ALTER TABLE logon_challenges ADD COLUMN new_kdf_threads BIGINT NOT NULL DEFAULT 0;
ALTER TABLE logon_challenges ADD COLUMN new_verifier BYTEA;
