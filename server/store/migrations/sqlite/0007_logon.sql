-- Logon at MitID.dk with user ID, password and chip (docs/logon.md): single-use
-- challenges, failed logons counted per user ID, and MitID.dk sessions.
--
-- A challenge is begun for a user ID whether or not anyone has it: user_key is a
-- keyed hash of the normalized user ID (HMAC with the logon key), so the store never
-- keeps what strangers type; person_id is '' when no person has the user ID.
CREATE TABLE logon_challenges (
    id           TEXT PRIMARY KEY,
    challenge    BLOB NOT NULL,
    user_key     TEXT NOT NULL,
    person_id    TEXT NOT NULL DEFAULT '',
    auth_request TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    -- When the password proof was checked (NULL: not yet), and whether it passed.
    password_at  INTEGER,
    password_ok  INTEGER NOT NULL DEFAULT 0,
    -- The nonce of the logon transcript, given when the password passed.
    nonce        BLOB,
    -- When the challenge was used up: a logon, or a wrong password.
    used_at      INTEGER
);

CREATE INDEX logon_challenges_expires ON logon_challenges (expires_at);

-- Logons begun and not completed, in a row, per user ID key; a bounded number locks
-- logon for the key for a while that doubles with each lock, up to a cap. A row is
-- forgotten (swept) at expires_at, a while after its last attempt or lock.
CREATE TABLE logon_failures (
    user_key     TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,
    lock_count   INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER,
    expires_at   INTEGER NOT NULL
);

CREATE INDEX logon_failures_expires ON logon_failures (expires_at);

-- MitID.dk sessions: only the cookie's SHA-256 is kept. expires_at is the earlier of
-- the idle end (seen_at plus the idle lifetime) and the absolute end.
CREATE TABLE logon_sessions (
    id          TEXT PRIMARY KEY,
    cookie_hash BLOB NOT NULL UNIQUE,
    person_id   TEXT NOT NULL REFERENCES persons (person_id),
    chip_serial TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE INDEX logon_sessions_expires ON logon_sessions (expires_at);
CREATE INDEX logon_sessions_person ON logon_sessions (person_id);

-- When the chip last logged its person on (NULL: never).
ALTER TABLE chips ADD COLUMN last_used_at INTEGER;
