package org.servicefarm.controller.routes;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.GatewayRouteQueries;

/**
 * Each service's stable address on the farm's gateways: the host clients reach the gateways at
 * ({@code --gateway-host}) and the port the database chose for the service (V12). A name's port
 * never changes once chosen, so answers are cached and the warm request path reads nothing more.
 */
public final class GatewayAddresses {
  /** Where gateways listen unless the controller is told otherwise: gateways' own default. */
  public static final String DEFAULT_HOST = "127.0.0.1";

  private final Database db;
  private final GatewayRouteQueries queries;
  private volatile String host;
  private final Map<String, Integer> known = new ConcurrentHashMap<>();

  public GatewayAddresses(Database db, GatewayRouteQueries queries, String host) {
    this.db = db;
    this.queries = queries;
    this.host = host;
  }

  /** Where clients reach the farm's gateways (the controller's {@code --gateway-host}). */
  public void advertiseHost(String gatewayHost) {
    this.host = gatewayHost;
  }

  /** The service's gateway port; empty for a name that was never defined. */
  public Optional<Integer> port(String service) {
    Integer cached = known.get(service);
    if (cached != null) {
      return Optional.of(cached);
    }
    Optional<Integer> read = queries.portOf(db, service);
    read.ifPresent(p -> known.put(service, p));
    return read;
  }

  /** Every defined service's gateway port, by name. */
  public Map<String, Integer> ports() {
    Map<String, Integer> ports = queries.ports(db);
    known.putAll(ports);
    return ports;
  }

  /** "host:port", IPv6 hosts in brackets. */
  public String address(int port) {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
