-- A handover moves an activation still at the password step to another device: a
-- short one-time code names it (docs/decisions.md, "Continue on another device").
-- Only hashes of the code are kept: lookup_hash of its first half finds the row, so
-- wrong codes can be counted on it; code_hash of the whole code is what must match.
-- No foreign key to the session: each row is swept by its own expiry.

CREATE TABLE handovers (
    lookup_hash   BYTEA PRIMARY KEY,
    code_hash     BYTEA NOT NULL,
    activation_id TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    wrong_codes   BIGINT NOT NULL DEFAULT 0,
    used_at       BIGINT,
    -- The order handovers were made in, for those made in the same nanosecond
    -- (SQLite's rowid; PostgreSQL has none that keeps it).
    seq           BIGINT GENERATED ALWAYS AS IDENTITY
);

CREATE INDEX handovers_activation ON handovers (activation_id);
CREATE INDEX handovers_expires ON handovers (expires_at);
