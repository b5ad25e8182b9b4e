-- Wrong codes and locks are counted per chip and person, the person whose activation
-- sends the codes (docs/decisions.md, "A chip lock that lifts"): a stranger's wrong
-- codes lock the chip for the stranger alone, never for its holder. The attempt
-- window stays on the chip.

CREATE TABLE chip_failures (
    serial       TEXT NOT NULL REFERENCES chips (serial),
    person_id    TEXT NOT NULL REFERENCES persons (person_id),
    -- Wrong codes in a row by the person on the chip, since their last lock lifted.
    failed_codes BIGINT NOT NULL DEFAULT 0,
    -- The person's locks on the chip since their last right code: each lasts twice
    -- the one before, up to a cap.
    lock_count   BIGINT NOT NULL DEFAULT 0,
    -- When the person's current or last lock lifts (NULL: none since a right code).
    locked_until BIGINT,
    PRIMARY KEY (serial, person_id)
);

-- The chip-wide counts go, and with them any chip-wide lock: nobody is locked out of
-- a chip by the upgrade, and each person's count starts afresh.
ALTER TABLE chips DROP COLUMN failed_codes;
ALTER TABLE chips DROP COLUMN locked_until;
ALTER TABLE chips DROP COLUMN lock_count;
