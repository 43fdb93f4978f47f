-- Service Farm schema, version 4: operations that clients can follow, and host draining.
-- Works with version 3's code: that code inserts operations without a phase (they start QUEUED)
-- and finishes them without one, never sets return_to, and writes events without a service,
-- which the watch filters treat as "no service".

-- Where a request stands, for WatchOperation. A request answered at once (no_wait) is advanced
-- phase by phase as its VM moves, and carries its answer (or its failure) once done.
ALTER TABLE operations
    ADD COLUMN phase            text    NOT NULL DEFAULT 'QUEUED' CHECK (phase IN ('QUEUED',
                                    'PLACING', 'BUILDING_IMAGE', 'TRANSFERRING', 'INSTALLING',
                                    'BOOTING', 'WAKING', 'RESTORING', 'READY', 'FAILED')),
    ADD COLUMN progress_percent integer NOT NULL DEFAULT 0 CHECK (progress_percent BETWEEN 0 AND 100),
    ADD COLUMN phase_message    text    CHECK (length(phase_message) <= 1024),
    -- Grows with every change, so a watcher can tell a newer row from one it has sent.
    ADD COLUMN version          bigint  NOT NULL DEFAULT 0 CHECK (version >= 0),
    -- The answer of a request that succeeded: where its service is reached.
    ADD COLUMN result_host      text    CHECK (length(result_host) BETWEEN 1 AND 255),
    ADD COLUMN result_port      integer CHECK (result_port BETWEEN 1 AND 65535),
    -- The lease the answer carries; old leases are pruned, and the answer then carries none.
    ADD COLUMN lease_id         uuid    REFERENCES leases (id) ON DELETE SET NULL,
    -- The gRPC status code a failed request would have answered.
    ADD COLUMN error_code       integer CHECK (error_code BETWEEN 1 AND 16);

ALTER TABLE operations
    ADD CONSTRAINT operations_ready_succeeded CHECK (phase <> 'READY' OR state = 'SUCCEEDED'),
    ADD CONSTRAINT operations_failed_phase_says_why CHECK (phase <> 'FAILED' OR error IS NOT NULL),
    ADD CONSTRAINT operations_result_host_port_together CHECK (
        (result_host IS NULL) = (result_port IS NULL));

-- Earlier operations, as far as their state tells.
UPDATE operations SET phase = 'READY', progress_percent = 100 WHERE state = 'SUCCEEDED';
UPDATE operations SET phase = 'FAILED' WHERE state = 'FAILED';

-- The reconciler advances every running operation of a VM at each step.
CREATE INDEX operations_running_vm ON operations (vm_id) WHERE state = 'RUNNING';

-- Draining a host archives each of its VMs and then restores it elsewhere: return_to is the
-- desired state the VM goes back to once archived. Not tied to desired_state by a constraint,
-- because version 3's code changes desired states without knowing this column.
ALTER TABLE vms
    ADD COLUMN return_to text CHECK (return_to IN ('ACTIVE', 'SLEEPING'));

-- Events of a VM name its definition, so events can be followed by service. Earlier rows are
-- filled in from their VM.
UPDATE events e SET service = v.definition
    FROM vms v WHERE e.vm_id = v.id AND e.service IS NULL;
CREATE INDEX events_service ON events (service, id) WHERE service IS NOT NULL;
