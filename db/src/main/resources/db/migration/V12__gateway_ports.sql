-- Service Farm schema, version 12: every service's stable gateway port, and tokens of role
-- "gateway". Works with version 11's code: it never reads gateway_ports, and the trigger below
-- gives a port to every service that code defines, so no service is ever without one.

-- A service's port on every gateway. Keyed by the service's name and not tied to the services
-- row: defining a definition again replaces its services rows, and deleting it removes them,
-- yet the name keeps its port, so an address handed out once stays true.
CREATE TABLE gateway_ports (
    service     text        PRIMARY KEY CHECK (service ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    port        integer     NOT NULL UNIQUE CHECK (port BETWEEN 30000 AND 32767),
    assigned_at timestamptz NOT NULL DEFAULT now()
);

-- The lowest free port of 30000-32767 (below Linux's ephemeral ports, as Kubernetes' node
-- ports are), under a transaction lock so two definitions committing at once never pick one.
CREATE FUNCTION assign_gateway_port(service_name text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    chosen integer;
BEGIN
    SELECT port INTO chosen FROM gateway_ports WHERE service = service_name;
    IF FOUND THEN
        RETURN chosen;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('servicefarm.gateway_ports'));
    SELECT port INTO chosen FROM gateway_ports WHERE service = service_name;
    IF FOUND THEN
        RETURN chosen;
    END IF;
    SELECT p INTO chosen FROM generate_series(30000, 32767) AS p
        WHERE NOT EXISTS (SELECT 1 FROM gateway_ports g WHERE g.port = p) ORDER BY p LIMIT 1;
    IF chosen IS NULL THEN
        RAISE EXCEPTION 'no free gateway port for service %: all of 30000-32767 are taken', service_name
            USING ERRCODE = '53400';
    END IF;
    INSERT INTO gateway_ports (service, port) VALUES (service_name, chosen);
    RETURN chosen;
END;
$$;

-- Chosen when the service is defined, by whichever release's code defines it.
CREATE FUNCTION services_gateway_port() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM assign_gateway_port(NEW.name);
    RETURN NEW;
END;
$$;

CREATE TRIGGER services_gateway_port AFTER INSERT ON services
    FOR EACH ROW EXECUTE FUNCTION services_gateway_port();

-- Services defined before this version get theirs in name order.
SELECT assign_gateway_port(name) FROM services ORDER BY name;

-- A gateway's token may request, renew and release leases, and watch routes; nothing else.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('client', 'admin', 'gateway'));
