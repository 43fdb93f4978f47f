package org.servicefarm.controller.metrics;

import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Locale;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ProjectRepository;
import org.servicefarm.controller.model.ProjectRecord;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.OperationRepository.OperationRow;
import org.servicefarm.controller.ha.Leadership;
import org.servicefarm.controller.images.ImageConstructor;
import org.servicefarm.http.WebExchange;

/**
 * The controller's Prometheus metrics, served as text (exposition format 0.0.4) on /metrics. The
 * README's "Metrics and health" lists them.
 *
 * <p>Built on Prometheus' own Java client (prometheus-metrics-core and its text writer): its
 * counters and histograms record without locks, a scrape reads a histogram's buckets, count and
 * sum consistently, and the writer escapes label values and names; about 400 KB of jars with no
 * further dependencies, less than a writer of our own that got all of that right would cost.
 * Every metric lives in this object's registry, not the library's global one, so several
 * controllers in one JVM (tests) keep their figures apart.
 */
public final class ControllerMetrics {
  private static final Logger LOG = Logger.getLogger(ControllerMetrics.class.getName());
  // From a fast warm-path call (sub-millisecond) to a request that waits for a guest to boot.
  private static final double[] CALL_SECONDS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
  // Requests that wait: a wake takes seconds, a first build of an image minutes.
  private static final double[] OPERATION_SECONDS = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
      300, 600, 1200};

  private static final double[] DUTY_SECONDS = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30};

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
  private final GrpcServerMetrics grpc;
  private final Histogram operations;
  private final Counter compositions;
  private final Histogram duties;

  public ControllerMetrics() {
    grpc = new GrpcServerMetrics(Histogram.builder()
        .name("servicefarm_grpc_server_handling_seconds")
        .help("gRPC calls served, from start to final status, by method and status code;"
            + " streams count when they close")
        .labelNames("method", "code")
        .classicUpperBounds(CALL_SECONDS).classicOnly().withoutExemplars()
        .register(registry));
    operations = Histogram.builder()
        .name("servicefarm_operation_duration_seconds")
        .help("Requests recorded as operations (idempotency key or no_wait) that waited for a VM,"
            + " from decision to answer: kind provision when they created the VM, else request")
        .labelNames("kind", "outcome")
        .classicUpperBounds(OPERATION_SECONDS).classicOnly().withoutExemplars()
        .register(registry);
    compositions = Counter.builder()
        .name("servicefarm_image_compositions_total")
        .help("Composed images asked for before an install, by how they became ready:"
            + " already_built is a hit of the controller's image store")
        .labelNames("result")
        .withoutExemplars()
        .register(registry);
    duties = Histogram.builder()
        .name("servicefarm_leader_duty_seconds")
        .help("Runs of the leader's periodic duties (idle ladder, liveness, reconcile sweep,"
            + " retention, ...) by duty, from start to end")
        .labelNames("duty")
        .classicUpperBounds(DUTY_SECONDS).classicOnly().withoutExemplars()
        .register(registry);
    for (ImageConstructor.Outcome outcome : ImageConstructor.Outcome.values()) {
      compositions.labelValues(label(outcome)).inc(0); // every result shows from the start
    }
  }

  /** The interceptor that times every call; Controller.serve installs it outermost. */
  public ServerInterceptor grpcInterceptor() {
    return grpc;
  }

  /** A request operation finished (the OperationTracker's listener). */
  public void operationFinished(OperationRow row) {
    if (row.createdAt() == null || row.updatedAt() == null) {
      return;
    }
    String outcome = row.errorCode() == null ? "OK"
        : Status.fromCodeValue(row.errorCode()).getCode().name();
    operations.labelValues(row.created() ? "provision" : "request", outcome)
        .observe(Duration.between(row.createdAt(), row.updatedAt()).toNanos() / 1e9);
  }

  /** A leader duty ran for this long (LeaderDuties' timing listener). */
  public void dutyRan(String duty, long nanos) {
    duties.labelValues(duty).observe(nanos / 1e9);
  }

  /** A composed image was asked for (the ImageConstructor's listener). */
  public void imageComposed(ImageConstructor.Outcome outcome) {
    compositions.labelValues(label(outcome)).inc();
  }

  /**
   * Adds the image store's bytes by what refers to them (image, kernel, initrd, base_layer,
   * base_tree, archive, unreferenced_young), as the last collection pass counted them.
   */
  public void watchBlobStore(java.util.function.Supplier<java.util.Map<String, Long>> bytesByKind) {
    GaugeWithCallback.builder().name("servicefarm_blob_store_bytes")
        .help("bytes in the image store by what refers to them, as of the last collection pass"
            + " (hourly on the leader)")
        .labelNames("kind")
        .callback(cb -> bytesByKind.get().forEach((kind, bytes) -> cb.call(bytes, kind)))
        .register(registry);
  }

  /**
   * Adds the gauges read at scrape time: the VM and host tables, this process, and the health
   * check's view of the database.
   */
  public void watch(Database db, Leadership leadership, IntSupplier connectedAgents,
      BooleanSupplier databaseUp) {
    FarmCensus census = new FarmCensus(db);
    GaugeWithCallback.builder().name("servicefarm_vms")
        .help("VMs in the VM table by observed state (one grouped query per scrape)")
        .labelNames("state")
        .callback(cb -> {
          try {
            census.vmsByState().forEach((state, n) -> cb.call(n, state.name()));
          } catch (DatabaseException e) {
            // servicefarm_database_up says why the series are missing from this scrape.
            LOG.log(Level.FINE, "VM counts left out of a scrape: {0}", e.getMessage());
          }
        })
        .register(registry);
    GaugeWithCallback.builder().name("servicefarm_hosts")
        .help("Farm hosts by status (one grouped query per scrape)")
        .labelNames("status")
        .callback(cb -> {
          try {
            census.hostsByStatus().forEach((status, n) -> cb.call(n, status.name()));
          } catch (DatabaseException e) {
            LOG.log(Level.FINE, "host counts left out of a scrape: {0}", e.getMessage());
          }
        })
        .register(registry);
    GaugeWithCallback.builder().name("servicefarm_controller_uptime_seconds")
        .help("Seconds since this controller's process started")
        .callback(cb -> cb.call(ManagementFactory.getRuntimeMXBean().getUptime() / 1000.0))
        .register(registry);
    GaugeWithCallback.builder().name("servicefarm_controller_leader")
        .help("1 while this controller leads the farm, else 0")
        .callback(cb -> cb.call(leadership.isLeader() ? 1 : 0))
        .register(registry);
    GaugeWithCallback.builder().name("servicefarm_controller_connected_agents")
        .help("Agents whose stream is open to this controller (only the leader takes them)")
        .callback(cb -> cb.call(connectedAgents.getAsInt()))
        .register(registry);
    GaugeWithCallback.builder().name("servicefarm_database_up")
        .help("1 when the last health probe of the database (every 2 s) was answered, else 0")
        .callback(cb -> cb.call(databaseUp.getAsBoolean() ? 1 : 0))
        .register(registry);
  }

  /**
   * Adds each project's usage and quota, read at scrape time (one grouped query): series
   * servicefarm_project_usage and servicefarm_project_quota (only the limits set), labelled by
   * project and resource (vcpus, memory_mb, vms, stored_bytes).
   */
  public void watchProjects(Database db) {
    ProjectRepository projects = new ProjectRepository();
    GaugeWithCallback.builder().name("servicefarm_project_usage")
        .help("What each project holds, counted as its quota counts")
        .labelNames("project", "resource")
        .callback(cb -> {
          try {
            for (ProjectRepository.Census c : projects.census(db)) {
              String p = c.project().name();
              cb.call(c.usage().vcpus(), p, "vcpus");
              cb.call(c.usage().memoryMb(), p, "memory_mb");
              cb.call(c.usage().vms(), p, "vms");
              cb.call(c.usage().storedBytes(), p, "stored_bytes");
            }
          } catch (DatabaseException e) {
            LOG.log(Level.FINE, "project usage left out of a scrape: {0}", e.getMessage());
          }
        })
        .register(registry);
    GaugeWithCallback.builder().name("servicefarm_project_quota")
        .help("Each project's limits (a limit not set has no series)")
        .labelNames("project", "resource")
        .callback(cb -> {
          try {
            for (ProjectRepository.Census c : projects.census(db)) {
              String p = c.project().name();
              ProjectRecord.Quota q = c.project().quota();
              if (q.vcpus() != null) {
                cb.call(q.vcpus(), p, "vcpus");
              }
              if (q.memoryMb() != null) {
                cb.call(q.memoryMb(), p, "memory_mb");
              }
              if (q.vms() != null) {
                cb.call(q.vms(), p, "vms");
              }
              if (q.storedBytes() != null) {
                cb.call(q.storedBytes(), p, "stored_bytes");
              }
            }
          } catch (DatabaseException e) {
            LOG.log(Level.FINE, "project quotas left out of a scrape: {0}", e.getMessage());
          }
        })
        .register(registry);
  }

  /** Answers a scrape with every metric in the text exposition format. */
  public void handle(WebExchange exchange) throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream(16 * 1024);
    writer.write(body, registry.scrape());
    exchange.getResponseHeaders().set("Content-Type", writer.getContentType());
    exchange.sendResponseHeaders(200, body.size());
    try (OutputStream out = exchange.getResponseBody()) {
      body.writeTo(out);
    }
  }

  private static String label(ImageConstructor.Outcome outcome) {
    return outcome.name().toLowerCase(Locale.ROOT);
  }
}
