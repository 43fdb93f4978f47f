-- Service Farm schema, version 18: definitions' priorities, room made by archiving idle VMs
-- (reclaim), and capacity reserved per project.
--
-- Works with version 17's code: that code writes none of the new columns, and their defaults
-- (priority 0, not preemptible, nothing reserved, no reclaim) are how it behaves.

-- A definition's VMs rank by its priority when the farm makes room: reclaim archives idle VMs of
-- a priority no higher than the request's, and VMs in use only of a lower priority and only
-- when their definition is preemptible.
ALTER TABLE service_definitions
    ADD COLUMN priority    integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000),
    ADD COLUMN preemptible boolean NOT NULL DEFAULT false;

-- A VM archived to make room names the VM the room was made for. That VM waits for room: it
-- installs (or restores) once the VMs leaving its host are gone.
ALTER TABLE vms
    ADD COLUMN reclaimed_for  uuid,
    ADD COLUMN waits_for_room boolean NOT NULL DEFAULT false;
CREATE INDEX vms_reclaimed_for ON vms (reclaimed_for) WHERE reclaimed_for IS NOT NULL;

-- Capacity kept for a project: other projects' placements treat its unused part as taken, and
-- reclaim for another project never archives the project's VMs below it.
ALTER TABLE projects
    ADD COLUMN reserved_vcpus     integer NOT NULL DEFAULT 0 CHECK (reserved_vcpus >= 0),
    ADD COLUMN reserved_memory_mb bigint  NOT NULL DEFAULT 0 CHECK (reserved_memory_mb >= 0);

-- Every reclaim is an event of the VM the room is made for, naming the VMs archived for it.
ALTER TABLE events DROP CONSTRAINT events_kind_check;
ALTER TABLE events ADD CONSTRAINT events_kind_check
    CHECK (kind IN ('VM_STATE', 'VM_DESIRED', 'HOST_STATUS', 'ORPHAN', 'RECLAIM'));
