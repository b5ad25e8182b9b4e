-- A person may block their own chip for good (lost, stolen) from the MitID app's
-- handoff, without the chip (docs/decisions.md, "Block my chip"). The chip's status
-- becomes 'revoked', final and refused by everything that refuses a revoked chip;
-- chip_blocks says that it was its holder who blocked it, why and when, so the
-- person is told "this chip is blocked: order a new one" rather than an operator's
-- "revoked". (A status of its own would mean rebuilding the chips table, which SQLite
-- cannot do inside the migration's transaction without breaking the references to it.)

CREATE TABLE chip_blocks (
    serial     TEXT PRIMARY KEY REFERENCES chips (serial),
    person_id  TEXT NOT NULL REFERENCES persons (person_id),
    reason     TEXT NOT NULL,
    blocked_at BIGINT NOT NULL
);

-- A person's activity, newest first, paged by id (PersonAudit).
CREATE INDEX audit_log_person ON audit_log (person_id, id);
