-- Service Farm schema, version 6: which controller leads.
-- Works with version 5's code, which never reads this table (and runs one controller).

-- Several controllers may share this database. The one holding PostgreSQL's session advisory lock
-- (key 'servicefarm.leader') leads: it runs the reconciler and timers and takes the agents' streams.
-- Winning the lock bumps the epoch here; the leader's writes check the epoch with FOR SHARE in the
-- same transaction, so a paused old leader cannot write once another has won (a fencing token),
-- and the bump waits for the old leader's writes in flight.
CREATE TABLE controller_leadership (
    id       smallint    PRIMARY KEY CHECK (id = 1),
    epoch    bigint      NOT NULL CHECK (epoch >= 0),
    holder   text        NOT NULL,
    address  text        NOT NULL,
    since    timestamptz NOT NULL DEFAULT now()
);

INSERT INTO controller_leadership (id, epoch, holder, address) VALUES (1, 0, '', '');
