-- Service Farm schema, version 15: projects, and quotas per project.
--
-- Every definition, VM, lease, operation and event belongs to a project; a client token is bound
-- to one, an admin token to one or (project NULL) to the whole farm. What existed before moves
-- into the project 'default', so a farm with one project works as it did.
--
-- Works with version 14's code: that code writes none of the new columns. Definitions and VMs it
-- inserts fall into 'default' by the columns' defaults; leases, operations and events take their
-- VM's project from a trigger; tokens it creates have no project, which this version reads as
-- "farm-wide" for admin tokens and "default" for client tokens.

CREATE TABLE projects (
    name                 text        PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    created_at           timestamptz NOT NULL DEFAULT now(),
    -- A deleted project keeps its row for the history that names it (deleted VMs, events); its
    -- name is not given out again.
    deleted_at           timestamptz CHECK (deleted_at IS NULL OR deleted_at >= created_at),
    -- Quotas: NULL means no limit. vCPUs and memory count the VMs that are wanted ACTIVE or
    -- SLEEPING (not archived, deleted or failed), vms counts the same VMs, stored_bytes the
    -- project's images.
    quota_vcpus          integer     CHECK (quota_vcpus >= 0),
    quota_memory_mb      bigint      CHECK (quota_memory_mb >= 0),
    quota_vms            integer     CHECK (quota_vms >= 0),
    quota_stored_bytes   bigint      CHECK (quota_stored_bytes >= 0)
);

INSERT INTO projects (name) VALUES ('default');

-- A definition belongs to the project that defined it; a shared one (defined by a farm-wide
-- admin) is visible to every project, and each project that requests it gets VMs of its own.
ALTER TABLE service_definitions
    ADD COLUMN project text    NOT NULL DEFAULT 'default' REFERENCES projects (name),
    ADD COLUMN shared  boolean NOT NULL DEFAULT false;
CREATE INDEX service_definitions_project ON service_definitions (project);

ALTER TABLE vms
    ADD COLUMN project text NOT NULL DEFAULT 'default' REFERENCES projects (name);
-- The quota check sums a project's VMs that hold (or may hold) resources.
CREATE INDEX vms_project_resident ON vms (project)
    WHERE desired_state IN ('ACTIVE', 'SLEEPING') AND state NOT IN ('DELETED', 'FAILED');

-- An image registered by a project's admin belongs to the project and counts to its stored bytes;
-- NULL: a farm-wide image every project may use.
ALTER TABLE images
    ADD COLUMN project text REFERENCES projects (name);

-- Leases, operations and events carry their VM's project, so a project's rows are found without
-- a join and stay its own after the VM row is gone. Events of no VM (a host's) have none.
ALTER TABLE leases ADD COLUMN project text REFERENCES projects (name);
ALTER TABLE operations ADD COLUMN project text REFERENCES projects (name);
ALTER TABLE events ADD COLUMN project text;

UPDATE leases SET project = 'default';
UPDATE operations SET project = 'default' WHERE vm_id IS NOT NULL;
UPDATE events SET project = 'default' WHERE vm_id IS NOT NULL;
CREATE INDEX events_project ON events (project, id) WHERE project IS NOT NULL;
CREATE INDEX leases_project ON leases (project) WHERE released_at IS NULL;

-- Fills the project of a lease, operation or event from its VM when the writer did not say.
CREATE FUNCTION project_of_vm() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.project IS NULL AND NEW.vm_id IS NOT NULL THEN
        SELECT project INTO NEW.project FROM vms WHERE id = NEW.vm_id;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER leases_project BEFORE INSERT ON leases
    FOR EACH ROW EXECUTE FUNCTION project_of_vm();
CREATE TRIGGER operations_project BEFORE INSERT OR UPDATE OF vm_id ON operations
    FOR EACH ROW EXECUTE FUNCTION project_of_vm();
CREATE TRIGGER events_project BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION project_of_vm();

-- A token is bound to a project (client tokens always, admin tokens when not farm-wide).
ALTER TABLE api_tokens
    ADD COLUMN project text REFERENCES projects (name);
UPDATE api_tokens SET project = 'default' WHERE role = 'client';
