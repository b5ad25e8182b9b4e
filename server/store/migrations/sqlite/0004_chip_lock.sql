-- A chip's lock lifts by itself (docs/decisions.md, "A chip lock that lifts"), and
-- code attempts per chip are counted in a window, for every instance alike.

-- When the current or last lock lifts (NULL: none since a right code).
ALTER TABLE chips ADD COLUMN locked_until INTEGER;
-- Locks since the last right code: each lasts twice the one before, up to a cap.
ALTER TABLE chips ADD COLUMN lock_count INTEGER NOT NULL DEFAULT 0;
-- Code attempts in the window that began at attempts_since.
ALTER TABLE chips ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chips ADD COLUMN attempts_since INTEGER;

-- Chips locked for ever by the old rule (ten wrong codes in a row, no expiry) are
-- unlocked, as if their lock had just lifted: the next lock is the second, twice as
-- long as the first.
UPDATE chips SET failed_codes = 0, lock_count = 1 WHERE failed_codes >= 10;
