-- Service Farm schema, version 17: placement rules. Hosts carry labels (zone=a, rack=r1) and
-- overcommit ratios; a definition may require labels, spread its VMs over a label's values, and
-- (always, softly) keeps its VMs on different hosts.
--
-- Works with version 16's code: it only adds tables and nullable columns, which that code neither
-- reads nor writes; a farm without labels and rules places exactly as before.

-- A host's labels. An agent reports its own at registration (source 'agent', replaced at every
-- registration); an admin's (source 'admin') win over the agent's for the same key and stay until
-- an admin removes them.
CREATE TABLE host_labels (
    host_id text NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    key     text NOT NULL CHECK (key ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    value   text NOT NULL CHECK (value ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    source  text NOT NULL CHECK (source IN ('agent', 'admin')),
    PRIMARY KEY (host_id, key, source)
);

-- Overcommit ratios: how many times its vCPUs and memory a host may promise to VMs. NULL: the
-- controller's defaults (--cpu-overcommit, 4.0; memory 1.0). Set by an admin.
ALTER TABLE hosts
    ADD COLUMN cpu_overcommit    double precision CHECK (cpu_overcommit BETWEEN 1.0 AND 64.0),
    ADD COLUMN memory_overcommit double precision CHECK (memory_overcommit BETWEEN 0.1 AND 4.0);

-- The labels a definition's VMs require of their host: one row per key, each a value the host's
-- label of that key must equal.
CREATE TABLE definition_constraints (
    definition text NOT NULL REFERENCES service_definitions (name) ON DELETE CASCADE,
    key        text NOT NULL CHECK (key ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    value      text NOT NULL CHECK (value ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    PRIMARY KEY (definition, key)
);

-- Spreading a definition's VMs over the values of a host label: hard refuses a host that would
-- make the VMs per value differ by more than max_skew; soft only prefers the hosts that do not.
CREATE TABLE definition_spread (
    definition text    PRIMARY KEY REFERENCES service_definitions (name) ON DELETE CASCADE,
    label_key  text    NOT NULL CHECK (label_key ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    hard       boolean NOT NULL,
    max_skew   integer NOT NULL CHECK (max_skew BETWEEN 1 AND 1000)
);
