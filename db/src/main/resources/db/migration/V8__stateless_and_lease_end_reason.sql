-- Service Farm schema, version 8: definitions whose VMs keep nothing on their disks, and why a
-- lease ended early. Works with version 7's code: it writes neither column, and the defaults mean
-- what version 7 did (every VM's disk is kept; leases end by release or expiry without a reason).

-- A stateless definition's VM whose disk is lost (and that has no archive) is installed again
-- from its image instead of failing.
ALTER TABLE service_definitions
    ADD COLUMN stateless boolean NOT NULL DEFAULT false;

-- Set when the farm ended a live lease itself (an admin action forced on a VM in use): what
-- ended it, for the holder who renews it next.
ALTER TABLE leases
    ADD COLUMN end_reason text CHECK (end_reason IS NULL OR released_at IS NOT NULL);
