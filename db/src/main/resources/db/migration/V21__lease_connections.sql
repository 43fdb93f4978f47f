-- Service Farm schema, version 21: a lease can stand for several users of its VM, and a gateway
-- can be an audited caller.
--
-- A lease can stand for several users of its VM. A farm gateway
-- holds one lease per VM it splices connections to and renews it with its count of open
-- connections; max_leases_per_vm (scale-out) counts a VM's live leases by this weight. Every
-- existing lease, and every lease version 20's code grants, weighs 1: that code runs on it
-- unchanged, counting rows as before.
ALTER TABLE leases ADD COLUMN connections integer NOT NULL DEFAULT 1 CHECK (connections >= 1);

-- A farm gateway may authenticate by its client certificate (SAN URI servicefarm:gateway:NAME)
-- instead of a token; the audit trail names it as a caller of its own kind. Version 20's code
-- writes only the kinds it knew, which the wider check still admits.
ALTER TABLE audit DROP CONSTRAINT audit_caller_kind_check;
ALTER TABLE audit ADD CONSTRAINT audit_caller_kind_check
    CHECK (caller_kind IN ('token', 'agent', 'gateway', 'anonymous')) NOT VALID;
ALTER TABLE audit VALIDATE CONSTRAINT audit_caller_kind_check;
