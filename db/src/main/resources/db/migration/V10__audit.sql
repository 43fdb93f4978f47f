-- Service Farm schema, version 10: the audit trail, who changed the farm and who was refused.
-- Works with version 9's code, which never reads or writes this table.

-- One row per call that changed the farm (or tried to), with its caller and outcome. Refused
-- calls (unauthenticated, permission denied, rate-limited) are summarised: the first refusal of a
-- caller and code in a window is a row of its own, the rest of that window one row whose count
-- says how many, so a flood of refused calls cannot fill the disk. Rows older than the
-- controller's audit retention are deleted.
CREATE TABLE audit (
    id           bigserial   PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    -- token: a bearer token (token_id set); agent: an agent (caller is its certified host id, or
    -- 'unverified' in plaintext mode); anonymous: no usable token, or --auth none.
    caller_kind  text        NOT NULL CHECK (caller_kind IN ('token', 'agent', 'anonymous')),
    token_id     uuid,
    caller       text        NOT NULL CHECK (length(caller) <= 200),
    peer         text        NOT NULL CHECK (length(peer) <= 200),
    method       text        NOT NULL CHECK (length(method) <= 200),
    target       text        NOT NULL DEFAULT '' CHECK (length(target) <= 300),
    -- The gRPC status code the caller got: OK, NOT_FOUND, PERMISSION_DENIED, ...
    outcome      text        NOT NULL CHECK (outcome ~ '^[A-Z_]{2,40}$'),
    detail       text        NOT NULL DEFAULT '' CHECK (length(detail) <= 500),
    -- More than 1 in a summary of refused calls; then at is when the summarised window began.
    call_count   integer     NOT NULL DEFAULT 1 CHECK (call_count >= 1),
    CHECK ((caller_kind = 'token') = (token_id IS NOT NULL))
);

CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_caller ON audit (caller, id);
CREATE INDEX audit_target ON audit (target, id);
