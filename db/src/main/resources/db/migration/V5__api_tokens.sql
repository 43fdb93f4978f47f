-- Service Farm schema, version 5: bearer tokens for clients and admins.
-- Works with version 4's code, which never reads this table (and serves without authentication).

-- A token is "sf_" followed by 32 random bytes in base64url. Only the sha256 of the whole token
-- is kept, so a copy of the database does not hand out working tokens. A revoked token stays, so
-- a caller presenting it is told it was revoked rather than that it is unknown.
CREATE TABLE api_tokens (
    id          uuid        PRIMARY KEY,
    name        text        NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    role        text        NOT NULL CHECK (role IN ('client', 'admin')),
    token_hash  text        NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);

-- A name picks one live token, so "farmctl token revoke NAME" cannot mean two.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;
