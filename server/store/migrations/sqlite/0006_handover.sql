-- A handover moves an activation still at the password step to another device: a
-- short one-time code names it (docs/decisions.md, "Continue on another device").
-- Only hashes of the code are kept: lookup_hash of its first half finds the row, so
-- wrong codes can be counted on it; code_hash of the whole code is what must match.
-- No foreign key to the session: each row is swept by its own expiry.

CREATE TABLE handovers (
    lookup_hash   BLOB PRIMARY KEY,
    code_hash     BLOB NOT NULL,
    activation_id TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    wrong_codes   INTEGER NOT NULL DEFAULT 0,
    used_at       INTEGER
);

CREATE INDEX handovers_activation ON handovers (activation_id);
CREATE INDEX handovers_expires ON handovers (expires_at);
