-- Borgerservice (docs/borgerservice.md): caseworkers, the console's own idle time,
-- and the ID checks behind assisted activations.
--
-- A caseworker is a person with a MitID who may use the console at one office. The
-- role is granted and withdrawn by an operator (`mitid-chip staff`); a withdrawn
-- role is a deleted row, so the console's next request is refused.
CREATE TABLE staff_roles (
    person_id  TEXT PRIMARY KEY REFERENCES persons (person_id),
    office     TEXT NOT NULL,
    granted_at BIGINT NOT NULL
);

-- The console's use of a MitID.dk session, for its own (shorter) idle timeout: a
-- row per logon session that has used the console, forgotten at expires_at.
CREATE TABLE staff_sessions (
    logon_session_id TEXT PRIMARY KEY,
    person_id        TEXT NOT NULL,
    seen_at          BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);

CREATE INDEX staff_sessions_expires ON staff_sessions (expires_at);

-- One row per assisted activation: who checked which document for whom. The
-- document number is kept only as a keyed hash (HMAC under a key derived from the
-- logon key). Kept as a record of the check; counted per caseworker for the hourly
-- limit.
CREATE TABLE assisted_activations (
    activation_id    TEXT PRIMARY KEY,
    citizen_id       TEXT NOT NULL REFERENCES persons (person_id),
    caseworker_id    TEXT NOT NULL,
    office           TEXT NOT NULL,
    document_type    TEXT NOT NULL,
    document_hash    BYTEA NOT NULL,
    document_expires BIGINT NOT NULL,
    chip_serial      TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL
);

CREATE INDEX assisted_activations_caseworker ON assisted_activations (caseworker_id, created_at);
