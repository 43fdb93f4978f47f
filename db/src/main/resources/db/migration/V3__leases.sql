-- Service Farm schema, version 3: leases, and each definition's idle ladder and scale-out settings.
-- Works with version 2's code: that code writes no leases, and the new definition columns have
-- defaults that mean what version 2 did (never sleep on its own, one VM per definition).

-- A lease is held while a client uses a VM; a VM with no live lease (unexpired, unreleased) is
-- idle. Rows stay after they end, for history and for last_used_at, until the idle ladder folds
-- old ones into vms.last_used_at and removes them.
CREATE TABLE leases (
    id              uuid        PRIMARY KEY,
    vm_id           uuid        NOT NULL REFERENCES vms (id) ON DELETE CASCADE,
    service         text        NOT NULL CHECK (service ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    -- What each renewal extends the lease by, unless the renewal asks for another TTL.
    ttl_seconds     integer     NOT NULL CHECK (ttl_seconds BETWEEN 1 AND 3600),
    -- The request's idempotency key, so a repeated request finds the lease its first one got.
    idempotency_key text        CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    created_at      timestamptz NOT NULL DEFAULT now(),
    renewed_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    released_at     timestamptz,
    CHECK (renewed_at >= created_at),
    CHECK (expires_at > renewed_at),
    -- Only a live lease is released: an expired one has ended already.
    CHECK (released_at IS NULL OR (released_at >= created_at AND released_at <= expires_at))
);
-- Live leases of a VM: unreleased rows by VM and expiry, so "vm_id = ? AND released_at IS NULL
-- AND expires_at > now()" is one range scan. Also serves the latest expiry of a VM.
CREATE INDEX leases_live ON leases (vm_id, expires_at) WHERE released_at IS NULL;
-- Every lease of a VM (last use, the cascade from vms) and the idle ladder's pruning of old ones.
CREATE INDEX leases_vm ON leases (vm_id);
CREATE INDEX leases_ended ON leases ((COALESCE(released_at, expires_at)));
CREATE INDEX leases_idempotency_key ON leases (idempotency_key) WHERE idempotency_key IS NOT NULL;

-- The idle ladder (0: never) and how many VMs a definition runs.
ALTER TABLE service_definitions
    ADD COLUMN sleep_after_seconds   integer NOT NULL DEFAULT 0 CHECK (sleep_after_seconds >= 0),
    ADD COLUMN archive_after_seconds integer NOT NULL DEFAULT 0 CHECK (archive_after_seconds >= 0),
    ADD COLUMN delete_after_seconds  integer NOT NULL DEFAULT 0 CHECK (delete_after_seconds >= 0),
    ADD COLUMN min_active            integer NOT NULL DEFAULT 0 CHECK (min_active >= 0),
    -- 0: no limit.
    ADD COLUMN max_leases_per_vm     integer NOT NULL DEFAULT 0 CHECK (max_leases_per_vm >= 0),
    ADD COLUMN max_instances         integer NOT NULL DEFAULT 1 CHECK (max_instances BETWEEN 1 AND 1000);

ALTER TABLE service_definitions
    -- A warm pool the definition may not have is a contradiction.
    ADD CONSTRAINT service_definitions_min_active_within_max CHECK (min_active <= max_instances),
    -- Each rung of the ladder counts from the last use, so a later rung comes later.
    ADD CONSTRAINT service_definitions_archive_after_sleep CHECK (
        archive_after_seconds = 0 OR sleep_after_seconds = 0
        OR archive_after_seconds > sleep_after_seconds),
    ADD CONSTRAINT service_definitions_delete_after_archive CHECK (
        delete_after_seconds = 0 OR archive_after_seconds = 0
        OR delete_after_seconds > archive_after_seconds);
