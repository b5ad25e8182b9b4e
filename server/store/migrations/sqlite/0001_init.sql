-- Times are UTC unix nanoseconds (INTEGER here, BIGINT on PostgreSQL).

CREATE TABLE persons (
    person_id         TEXT PRIMARY KEY,
    user_id           TEXT UNIQUE,
    password_verifier BLOB,
    kdf_salt          BLOB,
    kdf_time          INTEGER NOT NULL DEFAULT 0,
    kdf_memory_kib    INTEGER NOT NULL DEFAULT 0,
    kdf_threads       INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE chips (
    serial       TEXT PRIMARY KEY,
    seed_sealed  BLOB NOT NULL,
    cert_der     BLOB NOT NULL,
    status       TEXT NOT NULL DEFAULT 'available'
                 CHECK (status IN ('available', 'bound', 'retired', 'revoked')),
    person_id    TEXT REFERENCES persons (person_id),
    bound_at     INTEGER,
    last_step    INTEGER NOT NULL DEFAULT 0,
    failed_codes INTEGER NOT NULL DEFAULT 0,
    imported_at  INTEGER NOT NULL,
    CHECK (status <> 'bound' OR person_id IS NOT NULL)
);

-- One chip in use per person, whatever the code above it gets wrong.
CREATE UNIQUE INDEX chips_one_bound_per_person ON chips (person_id) WHERE status = 'bound';

CREATE TABLE activation_sessions (
    id                TEXT PRIMARY KEY,
    person_id         TEXT NOT NULL REFERENCES persons (person_id),
    cookie_hash       BLOB NOT NULL UNIQUE,
    state             TEXT NOT NULL CHECK (state IN ('redeemed', 'password_set',
                      'chip_presented', 'code_verified', 'completed', 'blocked')),
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    version           INTEGER NOT NULL,
    kdf_salt          BLOB,
    kdf_time          INTEGER NOT NULL DEFAULT 0,
    kdf_memory_kib    INTEGER NOT NULL DEFAULT 0,
    kdf_threads       INTEGER NOT NULL DEFAULT 0,
    password_verifier BLOB,
    chip_serial       TEXT REFERENCES chips (serial),
    chip_public_key   BLOB,
    nonce             BLOB,
    wrong_codes       INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX activation_sessions_expires ON activation_sessions (expires_at);

-- A ledger of redeemed token ids; person_id is for the record, so no foreign key.
CREATE TABLE used_handoffs (
    token_id   TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL,
    used_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX used_handoffs_expires ON used_handoffs (expires_at);

CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            INTEGER NOT NULL,
    activation_id TEXT NOT NULL DEFAULT '',
    person_id     TEXT NOT NULL DEFAULT '',
    event         TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_activation ON audit_log (activation_id, id);
