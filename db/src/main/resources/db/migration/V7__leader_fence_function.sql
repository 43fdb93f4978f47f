-- Service Farm schema, version 7: the leader's fence without row locks.
--
-- Version 6's code locks controller_leadership's row FOR SHARE in every leader-only transaction.
-- Each such lock writes WAL, and several at once make a MultiXact: a cost paid by every state
-- change the reconciler records. This function takes a shared transaction-level advisory lock
-- instead, then reads the epoch. A new leader bumps the epoch holding the same key exclusively, so
-- the bump still waits for the old leader's writes in flight; and the read, a new snapshot taken
-- after the lock is granted (as every query in a VOLATILE function takes), sees a bump that
-- committed while it waited.
--
-- Version 6's code keeps working against this schema: its FOR SHARE still holds off a bump, whose
-- UPDATE waits for row locks as before.
CREATE FUNCTION leader_fence_epoch() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtextextended('servicefarm.leader-fence', 0));
  RETURN (SELECT epoch FROM controller_leadership WHERE id = 1);
END
$$;
