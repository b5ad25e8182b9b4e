-- One row the readiness probe rewrites: a store is ready when it can commit this.
-- A counter rather than a time, because the store never reads the clock itself.
CREATE TABLE readiness (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    probes INTEGER NOT NULL
);
