package org.servicefarm.gateway;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.util.function.BooleanSupplier;

/**
 * The gateway's Prometheus metrics. Service labels are only ever names of defined services (a
 * client's invented Host name is counted as "-"), so a hostile client cannot grow the series.
 */
public final class GatewayMetrics {
  /** Label for a connection whose service is not (or not yet) known. */
  public static final String NO_SERVICE = "-";
  // From a spliced ACTIVE VM (well under a millisecond) to a build from packages (minutes).
  private static final double[] FIRST_BYTE_SECONDS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300};

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
  private final Gauge open = Gauge.builder()
      .name("servicefarm_gateway_connections_open")
      .help("Client connections spliced to a VM now, by service")
      .labelNames("service").register(registry);
  private final Gauge held = Gauge.builder()
      .name("servicefarm_gateway_connections_held")
      .help("Client connections held while the farm readies a VM, by service")
      .labelNames("service").register(registry);
  private final Histogram firstByte = Histogram.builder()
      .name("servicefarm_gateway_time_to_first_byte_seconds")
      .help("From a client's connection to the first byte its VM sent, by the path taken"
          + " (active, woke, restored, built)")
      .labelNames("path")
      .classicUpperBounds(FIRST_BYTE_SECONDS).classicOnly().withoutExemplars()
      .register(registry);
  private final Counter bytes = Counter.builder()
      .name("servicefarm_gateway_bytes_total")
      .help("Bytes relayed, by service and direction (to_service, to_client)")
      .labelNames("service", "direction").register(registry);
  private final Counter refusals = Counter.builder()
      .name("servicefarm_gateway_refusals_total")
      .help("Connections given up instead of spliced, by service and reason")
      .labelNames("service", "reason").register(registry);
  private final Counter wakes = Counter.builder()
      .name("servicefarm_gateway_farm_requests_total")
      .help("RequestService calls the gateway made (one per coalesced group of held"
          + " connections), by service and outcome (ok or the refusal reason)")
      .labelNames("service", "outcome").register(registry);

  public void watch(BooleanSupplier routesConnected) {
    GaugeWithCallback.builder().name("servicefarm_gateway_routes_connected")
        .help("1 while the route watch stream to a controller is open")
        .callback(cb -> cb.call(routesConnected.getAsBoolean() ? 1 : 0))
        .register(registry);
  }

  void opened(String service) {
    open.labelValues(service).inc();
  }

  void closed(String service) {
    open.labelValues(service).dec();
  }

  void holding(String service) {
    held.labelValues(service).inc();
  }

  void released(String service) {
    held.labelValues(service).dec();
  }

  void firstByte(WakePath path, long nanos) {
    firstByte.labelValues(path.label()).observe(nanos / 1e9);
  }

  void toService(String service, long n) {
    bytes.labelValues(service, "to_service").inc(n);
  }

  void toClient(String service, long n) {
    bytes.labelValues(service, "to_client").inc(n);
  }

  void refused(String service, Refusal why) {
    refusals.labelValues(service, why.label()).inc();
  }

  void farmRequest(String service, String outcome) {
    wakes.labelValues(service, outcome).inc();
  }

  public String contentType() {
    return writer.getContentType();
  }

  public void write(OutputStream out) throws IOException {
    writer.write(out, registry.scrape());
  }
}
