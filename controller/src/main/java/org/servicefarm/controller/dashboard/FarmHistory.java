package org.servicefarm.controller.dashboard;

import com.google.gson.stream.JsonWriter;
import java.io.IOException;
import java.io.StringWriter;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.VmListings;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.AgentSession;
import org.servicefarm.controller.model.HostRecord;
import org.servicefarm.controller.model.VmState;

/**
 * The last hour of the farm for the dashboard's plots, kept in this controller's memory: every
 * {@link #STEP} each host's CPU and memory (as its agent last reported them, and the memory
 * placed on it) and the count of VMs in each state; and, from {@link ReadyTimes}, how long
 * requests took by path. Bounded: {@link #SPAN} of samples a host (360), hosts gone for an hour
 * dropped. A controller that starts (or a follower that becomes leader) starts its history then.
 */
public final class FarmHistory implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(FarmHistory.class.getName());
  static final Duration STEP = Duration.ofSeconds(10);
  static final Duration SPAN = Duration.ofHours(1);
  private static final int KEPT = (int) (SPAN.toSeconds() / STEP.toSeconds());

  /** One host at one moment. */
  record HostSample(long at, double cpuPercent, long memoryUsedMb, long memoryTotalMb,
      long placedMemoryMb) {}

  /** The farm's VMs by state at one moment. */
  record StateSample(long at, Map<VmState, Integer> counts) {}

  private final Database db;
  private final HostRepository hosts;
  private final AgentRegistry agents;
  private final ReadyTimes readyTimes;
  private final Clock clock;
  private final Map<String, Deque<HostSample>> hostSamples = new TreeMap<>();
  private final Deque<StateSample> stateSamples = new ArrayDeque<>();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "dashboard-history");
    t.setDaemon(true);
    return t;
  });

  public FarmHistory(Database db, HostRepository hosts, AgentRegistry agents,
      ReadyTimes readyTimes, Clock clock) {
    this.db = db;
    this.hosts = hosts;
    this.agents = agents;
    this.readyTimes = readyTimes;
    this.clock = clock;
  }

  /** Takes a sample now and every {@link #STEP} until closed. */
  public void start() {
    timer.scheduleAtFixedRate(this::sampleQuietly, 0, STEP.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void sampleQuietly() {
    try {
      sample();
    } catch (DatabaseException e) {
      // A gap in the plot shows the outage; the next step tries again.
      LOG.log(Level.FINE, "dashboard history sample left out: {0}", e.getMessage());
    } catch (RuntimeException e) {
      // Thrown out of the timer, it would end the sampling for good: log it, go on next step.
      LOG.log(Level.WARNING, "dashboard history sample failed", e);
    }
  }

  void sample() {
    long now = clock.instant().getEpochSecond();
    List<HostRecord> all = hosts.list(db);
    Map<VmState, Integer> counts = new EnumMap<>(VmListings.countsByState(db));
    synchronized (this) {
      for (HostRecord h : all) {
        HostRecord.HostLoad load = agents.session(h.id()).map(AgentSession::load).orElse(null);
        if (load == null) {
          continue; // no agent connected: nothing measured, a gap in its line
        }
        append(hostSamples.computeIfAbsent(h.id(), id -> new ArrayDeque<>()), new HostSample(now,
            load.cpuPercent(), load.memoryUsedMb(), load.memoryTotalMb(), h.allocatedMemoryMb()));
      }
      append(stateSamples, new StateSample(now, counts));
      long since = now - SPAN.toSeconds();
      hostSamples.values().removeIf(s -> s.isEmpty() || s.peekLast().at() < since);
    }
  }

  private static <T> void append(Deque<T> ring, T sample) {
    ring.addLast(sample);
    while (ring.size() > KEPT) {
      ring.removeFirst();
    }
  }

  /** The samples of one host, oldest first (empty when it has none). */
  synchronized List<HostSample> host(String hostId) {
    return new ArrayList<>(hostSamples.getOrDefault(hostId, new ArrayDeque<>()));
  }

  /**
   * Everything the plots draw, as JSON: {@code hosts} (per host, columns t, cpuPercent,
   * memoryUsedMb, memoryTotalMb, placedMemoryMb; t in epoch seconds), {@code vmStates} (columns
   * t and one per state seen in the hour) and {@code readyTimes} (bucket bounds in seconds, and
   * per path the count in each bucket, how many, and the median).
   */
  String json() throws IOException {
    Map<String, List<HostSample>> hostCopy = new TreeMap<>();
    List<StateSample> stateCopy;
    synchronized (this) {
      hostSamples.forEach((id, samples) -> hostCopy.put(id, new ArrayList<>(samples)));
      stateCopy = new ArrayList<>(stateSamples);
    }
    StringWriter text = new StringWriter();
    try (JsonWriter out = new JsonWriter(text)) {
      out.setHtmlSafe(true);
      out.beginObject();
      out.name("generatedAt").value(Instant.now(clock).toString());
      out.name("stepSeconds").value(STEP.toSeconds());
      out.name("hosts").beginObject();
      for (Map.Entry<String, List<HostSample>> e : hostCopy.entrySet()) {
        out.name(e.getKey());
        writeHost(out, e.getValue());
      }
      out.endObject();
      writeStates(out, stateCopy);
      writeReadyTimes(out);
      out.endObject();
    }
    return text.toString();
  }

  static void writeHost(JsonWriter out, List<HostSample> samples) throws IOException {
    out.beginObject();
    column(out, "t", samples.stream().map(s -> (Number) s.at()).toList());
    column(out, "cpuPercent",
        samples.stream().map(s -> (Number) (Math.round(s.cpuPercent() * 10) / 10.0)).toList());
    column(out, "memoryUsedMb", samples.stream().map(s -> (Number) s.memoryUsedMb()).toList());
    column(out, "memoryTotalMb", samples.stream().map(s -> (Number) s.memoryTotalMb()).toList());
    column(out, "placedMemoryMb",
        samples.stream().map(s -> (Number) s.placedMemoryMb()).toList());
    out.endObject();
  }

  private static void writeStates(JsonWriter out, List<StateSample> samples) throws IOException {
    out.name("vmStates").beginObject();
    column(out, "t", samples.stream().map(s -> (Number) s.at()).toList());
    EnumMap<VmState, Boolean> seen = new EnumMap<>(VmState.class);
    samples.forEach(s -> s.counts().keySet().forEach(state -> seen.put(state, true)));
    for (VmState state : seen.keySet()) {
      column(out, state.name(), samples.stream()
          .map(s -> (Number) s.counts().getOrDefault(state, 0)).toList());
    }
    out.endObject();
  }

  private void writeReadyTimes(JsonWriter out) throws IOException {
    out.name("readyTimes").beginObject();
    out.name("bucketSeconds").beginArray();
    for (double bound : ReadyTimes.BUCKET_SECONDS) {
      out.value(bound);
    }
    out.endArray();
    out.name("paths").beginObject();
    for (Map.Entry<String, List<ReadyTimes.Sample>> e : readyTimes.lastHour().entrySet()) {
      int[] buckets = new int[ReadyTimes.BUCKET_SECONDS.length + 1];
      List<Double> seconds = new ArrayList<>();
      for (ReadyTimes.Sample s : e.getValue()) {
        buckets[ReadyTimes.bucket(s.seconds())]++;
        seconds.add(s.seconds());
      }
      seconds.sort(Double::compare);
      out.name(e.getKey()).beginObject();
      out.name("count").value(seconds.size());
      out.name("medianSeconds").value(seconds.isEmpty() ? null
          : Math.round(seconds.get(seconds.size() / 2) * 1000) / 1000.0);
      out.name("buckets").beginArray();
      for (int n : buckets) {
        out.value(n);
      }
      out.endArray().endObject();
    }
    out.endObject().endObject();
  }

  private static void column(JsonWriter out, String name, List<Number> values) throws IOException {
    out.name(name).beginArray();
    for (Number v : values) {
      out.value(v);
    }
    out.endArray();
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
