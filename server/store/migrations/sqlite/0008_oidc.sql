-- The OpenID Connect provider (docs/oidc.md): the sites registered to log people on
-- through MitID, their authorization requests and codes, the access tokens for
-- userinfo, and the ID token signing keys. Secrets are kept as SHA-256 hashes (client
-- secrets, codes, callback handles); signing keys sealed with the server's seal key.
-- Numbered 0008: 0007 is the logon ceremony's.

CREATE TABLE oidc_clients (
    client_id     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_hash   BLOB,             -- NULL: a public client (PKCE only)
    redirect_uris TEXT NOT NULL,    -- newline-separated, each matched exactly
    created_at    INTEGER NOT NULL
);

-- One authorization request from /oidc/authorize to the code's exchange. No foreign
-- key to the client: removing a client deletes its requests in the same transaction.
CREATE TABLE oidc_auth_requests (
    id                    TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    state                 TEXT NOT NULL,
    nonce                 TEXT NOT NULL,
    code_challenge        TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    person_id             TEXT,     -- set by Finish
    auth_time             INTEGER,
    acr                   TEXT,
    amr                   TEXT,
    callback_hash         BLOB UNIQUE,
    code_hash             BLOB UNIQUE,
    code_expires_at       INTEGER,
    code_used_at          INTEGER
);

-- A nonce names one authorization request of its client while that is kept.
CREATE UNIQUE INDEX oidc_auth_requests_nonce ON oidc_auth_requests (client_id, nonce);
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);

CREATE TABLE oidc_tokens (
    id              TEXT PRIMARY KEY,
    auth_request_id TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    person_id       TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);

CREATE INDEX oidc_tokens_auth_request ON oidc_tokens (auth_request_id);
CREATE INDEX oidc_tokens_expires ON oidc_tokens (expires_at);

CREATE TABLE oidc_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    sealed_private BLOB NOT NULL,
    public_der     BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    retired_at     INTEGER          -- NULL: the signing key; else published until expires_at
);
