-- Service Farm schema, version 16: indexes that leave out the dead rows a long-lived farm piles
-- up (DELETED VMs, finished operations, old events), so no hot path reads them, and the indexes
-- the history retention deletes by. Only adds indexes: version 15's code runs on it unchanged.

-- A definition's VMs that still exist: the request path's candidates, the idle ladder, the
-- census of VMs per definition. (vms_definition_state holds every VM a definition ever had.)
CREATE INDEX vms_live_by_definition ON vms (definition) WHERE state NOT IN ('DELETED', 'FAILED');

-- ListVms with exclude_deleted pages through these by id.
CREATE INDEX vms_not_deleted ON vms (id) WHERE state <> 'DELETED';

-- The dashboard's most recently changed VMs, those not deleted first.
CREATE INDEX vms_recent_not_deleted ON vms (updated_at DESC, id) WHERE state <> 'DELETED';

-- History retention: DELETED VMs by when they last changed, finished operations by VM, events
-- by time.
CREATE INDEX vms_deleted_since ON vms (updated_at) WHERE state = 'DELETED';
CREATE INDEX operations_vm ON operations (vm_id) WHERE vm_id IS NOT NULL;
CREATE INDEX events_at ON events (at);
