-- Service Farm schema, version 1.
-- Constraints carry the rules the code relies on, so a bad state cannot be stored even by a bug.

-- Images the farm can give a VM: registered pre-constructed ones, and ones composed from packages
-- (keyed by the hash of their inputs, so one package combination is built once).
CREATE TABLE images (
    id          uuid        PRIMARY KEY,
    name        text        NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,127}$'),
    sha256      text        CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes  bigint      NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    format      text        NOT NULL CHECK (format IN ('qcow2', 'raw')),
    source_path text,
    input_hash  text        UNIQUE CHECK (input_hash ~ '^[0-9a-f]{64}$'),
    build_state text        NOT NULL CHECK (build_state IN ('PENDING', 'BUILDING', 'READY', 'FAILED')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- A ready image has a digest agents can verify.
    CHECK (build_state <> 'READY' OR sha256 IS NOT NULL),
    -- An image either was registered (no inputs) or is composed from packages (inputs hashed).
    CHECK (input_hash IS NOT NULL OR build_state = 'READY')
);

-- What the farm can construct: one definition builds one kind of VM.
CREATE TABLE service_definitions (
    name       text        PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    image_id   uuid        NOT NULL REFERENCES images (id),
    packages   text[]      NOT NULL DEFAULT '{}',
    command    text        NOT NULL DEFAULT '' CHECK (length(command) <= 4096),
    vcpus      integer     NOT NULL CHECK (vcpus BETWEEN 1 AND 64),
    memory_mb  bigint      NOT NULL CHECK (memory_mb BETWEEN 64 AND 1048576),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every named service, and the definition whose VMs offer it. A definition offers a service of
-- its own name and may bundle more (one VM, several services, each on its own guest port).
CREATE TABLE services (
    name       text    PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    definition text    NOT NULL REFERENCES service_definitions (name) ON DELETE CASCADE,
    guest_port integer NOT NULL CHECK (guest_port BETWEEN 1 AND 65535),
    UNIQUE (definition, guest_port)
);
CREATE INDEX services_definition ON services (definition);

-- Farm hosts, as their agents registered them. Liveness lives in the controller's memory; the
-- row keeps the last status and load so a restarted controller and the admin API can show them.
CREATE TABLE hosts (
    id                   text             PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    address              text             NOT NULL CHECK (length(address) BETWEEN 1 AND 255),
    hypervisor           text             NOT NULL CHECK (hypervisor IN ('test', 'kvm', 'qemu-tcg')),
    status               text             NOT NULL CHECK (status IN ('UP', 'DOWN', 'DRAINING')),
    capacity_vcpus       integer          NOT NULL CHECK (capacity_vcpus > 0),
    capacity_memory_mb   bigint           NOT NULL CHECK (capacity_memory_mb > 0),
    capacity_disk_mb     bigint           NOT NULL DEFAULT 0 CHECK (capacity_disk_mb >= 0),
    load_cpu_percent     double precision NOT NULL DEFAULT 0 CHECK (load_cpu_percent BETWEEN 0 AND 100),
    load_memory_used_mb  bigint           NOT NULL DEFAULT 0 CHECK (load_memory_used_mb >= 0),
    load_memory_total_mb bigint           NOT NULL DEFAULT 0 CHECK (load_memory_total_mb >= 0),
    load_vm_count        integer          NOT NULL DEFAULT 0 CHECK (load_vm_count >= 0),
    load_disk_free_mb    bigint           NOT NULL DEFAULT 0 CHECK (load_disk_free_mb >= 0),
    last_report_at       timestamptz,
    registered_at        timestamptz      NOT NULL DEFAULT now()
);

-- The VM table. The controller writes desired_state; observed state (state) follows what agents
-- report. generation grows with every change of desired state and keys the agents' commands.
CREATE TABLE vms (
    id             uuid        PRIMARY KEY,
    definition     text        NOT NULL REFERENCES service_definitions (name),
    image_id       uuid        NOT NULL REFERENCES images (id),
    host_id        text        REFERENCES hosts (id),
    state          text        NOT NULL CHECK (state IN ('PROVISIONING', 'STARTING', 'ACTIVE', 'SLEEPING',
                                   'ARCHIVING', 'ARCHIVED', 'RESTORING', 'DELETING', 'DELETED', 'FAILED', 'UNKNOWN')),
    desired_state  text        NOT NULL CHECK (desired_state IN ('ACTIVE', 'SLEEPING', 'ARCHIVED', 'DELETED')),
    generation     bigint      NOT NULL DEFAULT 1 CHECK (generation >= 1),
    vcpus          integer     NOT NULL CHECK (vcpus BETWEEN 1 AND 64),
    memory_mb      bigint      NOT NULL CHECK (memory_mb BETWEEN 64 AND 1048576),
    archive_ref    text,
    failure_reason text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'FAILED' OR failure_reason IS NOT NULL),
    -- A VM that runs or sleeps does so on a host.
    CHECK (state NOT IN ('STARTING', 'ACTIVE', 'SLEEPING', 'ARCHIVING', 'RESTORING', 'UNKNOWN') OR host_id IS NOT NULL),
    -- An archived VM holds no host resources and can be found in the archive store.
    CHECK (state <> 'ARCHIVED' OR (host_id IS NULL AND archive_ref IS NOT NULL)),
    CHECK (state <> 'DELETED' OR host_id IS NULL)
);
CREATE INDEX vms_definition_state ON vms (definition, state);
CREATE INDEX vms_host ON vms (host_id) WHERE host_id IS NOT NULL;
CREATE INDEX vms_unsettled ON vms (id) WHERE state <> desired_state AND state NOT IN ('DELETED', 'FAILED');

-- The list of services offered: which VM offers which service, reached on which host port.
CREATE TABLE vm_services (
    vm_id      uuid    NOT NULL REFERENCES vms (id) ON DELETE CASCADE,
    service    text    NOT NULL CHECK (service ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    guest_port integer NOT NULL CHECK (guest_port BETWEEN 1 AND 65535),
    host_port  integer CHECK (host_port BETWEEN 1 AND 65535),
    PRIMARY KEY (vm_id, service)
);
CREATE INDEX vm_services_service ON vm_services (service);

-- Client requests and admin actions that take more than one step.
CREATE TABLE operations (
    id              uuid        PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('REQUEST', 'SUSPEND', 'RESUME', 'ARCHIVE', 'RESTORE', 'DELETE')),
    service         text,
    vm_id           uuid        REFERENCES vms (id),
    idempotency_key text        UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    state           text        NOT NULL CHECK (state IN ('RUNNING', 'SUCCEEDED', 'FAILED')),
    -- Whether the request created its VM, so a repeated request answers the same.
    created         boolean     NOT NULL DEFAULT false,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'FAILED' OR error IS NOT NULL)
);

-- Every transition, with when and why. Append-only.
CREATE TABLE events (
    id         bigserial   PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    kind       text        NOT NULL CHECK (kind IN ('VM_STATE', 'VM_DESIRED', 'HOST_STATUS', 'ORPHAN')),
    vm_id      uuid,
    host_id    text,
    service    text,
    from_state text,
    to_state   text,
    cause      text        NOT NULL
);
CREATE INDEX events_vm ON events (vm_id, id) WHERE vm_id IS NOT NULL;
CREATE INDEX events_host ON events (host_id, id) WHERE host_id IS NOT NULL;
