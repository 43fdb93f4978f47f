package org.servicefarm.agent.metrics;

import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.servicefarm.agent.hypervisor.Hypervisor;
import org.servicefarm.agent.hypervisor.HypervisorException;
import org.servicefarm.agent.images.ImageCache;
import org.servicefarm.agent.link.CommandObserver;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.PowerState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's Prometheus metrics (the README's "Metrics and health" lists them), on the same
 * client library as the controller's: lock-free recording and a correct text writer for a few
 * hundred KB of jars with no further dependencies. Command durations are recorded as commands
 * end; everything else is read when /metrics is scraped.
 */
public final class AgentMetrics implements CommandObserver {
  private static final Logger log = LoggerFactory.getLogger(AgentMetrics.class);
  // A start or suspend takes well under a second on the test driver and seconds with QEMU; an
  // install that fetches an image, or an archive that uploads a disk, minutes.
  private static final double[] COMMAND_SECONDS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
      2.5, 5, 10, 30, 60, 120, 300, 600};

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
  private final Histogram commands = Histogram.builder()
      .name("servicefarm_agent_command_duration_seconds")
      .help("Controller commands run on this host, by kind (install, start, suspend, resume,"
          + " archive, restore, delete) and outcome (ok or the error kind)")
      .labelNames("kind", "outcome")
      .classicUpperBounds(COMMAND_SECONDS).classicOnly().withoutExemplars()
      .register(registry);

  @Override
  public void finished(String kind, String outcome, long nanos) {
    commands.labelValues(kind, outcome).observe(nanos / 1e9);
  }

  /**
   * Adds the figures read at scrape time.
   *
   * @param cache the image cache, absent on the test driver, which keeps no images
   */
  public void watch(Hypervisor hypervisor, BooleanSupplier controllerConnected,
      Supplier<Optional<String>> libvirtProblem, Optional<ImageCache> cache) {
    GaugeWithCallback.builder().name("servicefarm_agent_controller_connected")
        .help("1 while a controller has accepted this agent's registration and the stream is open")
        .callback(cb -> cb.call(controllerConnected.getAsBoolean() ? 1 : 0))
        .register(registry);
    GaugeWithCallback.builder().name("servicefarm_agent_libvirt_up")
        .help("1 when libvirt answered at this scrape, else 0")
        .callback(cb -> cb.call(libvirtProblem.get().isEmpty() ? 1 : 0))
        .register(registry);
    GaugeWithCallback.builder().name("servicefarm_agent_domains")
        .help("This host's farm domains by power state, as libvirt reports them")
        .labelNames("state")
        .callback(cb -> domainsByState(hypervisor)
            .ifPresent(counts -> counts.forEach((state, n) -> cb.call(n, label(state)))))
        .register(registry);
    GaugeWithCallback.builder().name("servicefarm_agent_uptime_seconds")
        .help("Seconds since this agent's process started")
        .callback(cb -> cb.call(ManagementFactory.getRuntimeMXBean().getUptime() / 1000.0))
        .register(registry);
    cacheCounter("servicefarm_agent_image_cache_hits_total",
        "Image blobs an install or restore found in this host's cache", cache,
        s -> s.hits());
    cacheCounter("servicefarm_agent_image_cache_misses_total",
        "Image blobs fetched from the controller's image store into this host's cache", cache,
        s -> s.misses());
    cacheCounter("servicefarm_agent_image_cache_fetched_bytes_total",
        "Bytes of image blobs fetched into this host's cache", cache,
        s -> s.fetchedBytes());
  }

  private void cacheCounter(String name, String help, Optional<ImageCache> cache,
      java.util.function.ToLongFunction<ImageCache.Stats> figure) {
    CounterWithCallback.builder().name(name).help(help)
        .callback(cb -> cb.call(cache.map(c -> figure.applyAsLong(c.stats())).orElse(0L)))
        .register(registry);
  }

  /** Counts by power state, every state shown; empty when libvirt cannot be asked. */
  private static Optional<Map<PowerState, Integer>> domainsByState(Hypervisor hypervisor) {
    Map<PowerState, Integer> counts = new EnumMap<>(PowerState.class);
    for (PowerState state : PowerState.values()) {
      if (state != PowerState.POWER_STATE_UNSPECIFIED && state != PowerState.UNRECOGNIZED) {
        counts.put(state, 0);
      }
    }
    try {
      for (DomainStatus domain : hypervisor.inventory()) {
        counts.merge(domain.getPower(), 1, Integer::sum);
      }
      return Optional.of(counts);
    } catch (HypervisorException e) {
      // servicefarm_agent_libvirt_up says why the series are missing from this scrape.
      log.debug("domain counts left out of a scrape: {}", e.getMessage());
      return Optional.empty();
    }
  }

  private static String label(PowerState state) {
    return state.name().replaceFirst("^POWER_STATE_", "").toLowerCase(Locale.ROOT);
  }

  /** The text exposition format's content type. */
  String contentType() {
    return writer.getContentType();
  }

  /** Writes every metric in the text exposition format. */
  void write(OutputStream out) throws IOException {
    writer.write(out, registry.scrape());
  }
}
