-- Service Farm schema, version 9: an idempotency key belongs to the caller that sent it.
--
-- Until now operations.idempotency_key was unique across every caller, so a second caller sending
-- the same key was answered the first caller's lease, operation and service. A request's key now
-- lives in request_key beside its caller (the token's id), unique per caller.
--
-- Works with version 8's code: that code keeps writing and reading idempotency_key, whose unique
-- constraint stays (its ON CONFLICT (idempotency_key) needs it), and never reads the new columns.
-- This version's code leaves idempotency_key NULL, so the two never meet: a request repeated
-- across the upgrade is a new request. A later version may drop idempotency_key.

ALTER TABLE operations
    -- Who sent the request: 'token:<uuid>', 'agent', or 'anonymous' without authentication.
    ADD COLUMN caller      text CHECK (length(caller) BETWEEN 1 AND 64),
    ADD COLUMN request_key text CHECK (length(request_key) BETWEEN 1 AND 128),
    ADD CONSTRAINT operations_request_key_has_caller CHECK (request_key IS NULL OR caller IS NOT NULL);

-- NULL keys never conflict, so requests without a key are not limited by it.
CREATE UNIQUE INDEX operations_caller_request_key ON operations (caller, request_key);

ALTER TABLE leases
    ADD COLUMN caller      text CHECK (length(caller) BETWEEN 1 AND 64),
    ADD COLUMN request_key text CHECK (length(request_key) BETWEEN 1 AND 128);

-- A repeated request finds the lease its first one got.
CREATE INDEX leases_caller_request_key ON leases (caller, request_key, vm_id)
    WHERE request_key IS NOT NULL;
