package org.servicefarm.controller.health;

import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.ha.Leadership;

/**
 * Keeps {@code grpc.health.v1} (and so /healthz) true to what this controller can do. Every
 * {@link #INTERVAL} it asks the database a trivial question on a pooled connection, on a thread
 * of its own and with a short timeout, so the warm path carries no extra work; and it looks at
 * leadership and the connected agents, which it reads from memory.
 *
 * <ul>
 *   <li>The database does not answer: the overall service {@code ""} and every
 *       {@code servicefarm.v1.*} service are NOT_SERVING (nothing works without it).
 *   <li>This controller leads and no agent is connected: {@code servicefarm.v1.ServiceBroker} is
 *       NOT_SERVING (nothing can be placed or woken); the rest serve.
 * </ul>
 *
 * A follower's broker serves while its database does: it forwards calls to the leader, whose
 * agents it cannot see.
 */
public final class ServingHealth implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ServingHealth.class.getName());
  /** How often the database, leadership and agents are looked at. */
  static final Duration INTERVAL = Duration.ofSeconds(2);
  /** How long the database may take to answer before it counts as unreachable. */
  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);
  public static final String BROKER = "servicefarm.v1.ServiceBroker";
  public static final List<String> SERVICES = List.of(BROKER, "servicefarm.v1.FarmAdmin",
      "servicefarm.v1.AgentControl", "servicefarm.v1.ImageStore", "servicefarm.v1.TokenAdmin");

  /** What one look found. */
  public record Report(Optional<String> databaseProblem, boolean leading,
      Optional<String> leader, int connectedAgents) {
    /** Whether the controller serves at all: its database answers. */
    public boolean serving() {
      return databaseProblem.isEmpty();
    }

    /** Whether requests can be placed: serving, and a leader has an agent to place on. */
    public boolean brokerServing() {
      return serving() && !(leading && connectedAgents == 0);
    }

    /** One line for people: what serves, and why not when it does not. */
    public String describe() {
      String role = leading ? "leading, " + agents()
          : "following " + leader.orElse("(no leader yet)");
      if (!serving()) {
        return "not serving: the database cannot be reached (" + databaseProblem.get() + "); "
            + role;
      }
      return "serving, " + role + (brokerServing() ? ""
          : "; " + BROKER + " NOT_SERVING: no agent is connected, nothing can be placed");
    }

    private String agents() {
      return connectedAgents == 1 ? "1 agent connected" : connectedAgents + " agents connected";
    }
  }

  private final HealthStatusManager health;
  private final DataSource database;
  private final Leadership leadership;
  private final IntSupplier connectedAgents;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
      daemon("health"));
  // The probe runs here so that a connection attempt that hangs cannot stall the timer.
  private final ExecutorService prober = Executors.newSingleThreadExecutor(daemon("health-probe"));
  private Future<?> probe; // timer thread only
  private volatile Report report;

  public ServingHealth(HealthStatusManager health, DataSource database, Leadership leadership,
      IntSupplier connectedAgents) {
    this.health = health;
    this.database = database;
    this.leadership = leadership;
    this.connectedAgents = connectedAgents;
  }

  /** Looks once now (so the statuses are right when the server starts), then every interval. */
  public void start() {
    try {
      timer.submit(this::check).get();
    } catch (ExecutionException e) {
      throw new IllegalStateException("the first health check failed", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    timer.scheduleWithFixedDelay(this::checkSafely, INTERVAL.toMillis(), INTERVAL.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /**
   * The database as the last look found it, with leadership and the connected agents as they are
   * now (both in memory): an agent that connected a moment ago counts at once. Empty before the
   * first look.
   */
  public Optional<Report> report() {
    Report last = report;
    return last == null ? Optional.empty() : Optional.of(withDatabase(last.databaseProblem()));
  }

  private Report withDatabase(Optional<String> databaseProblem) {
    return new Report(databaseProblem, leadership.isLeader(),
        leadership.leader().map(Leadership.Leader::address).filter(a -> !a.isBlank()),
        connectedAgents.getAsInt());
  }

  private void checkSafely() {
    try {
      check();
    } catch (RuntimeException e) {
      // A periodic task that throws is never run again; health would freeze as it was.
      LOG.log(Level.SEVERE, "health check failed; trying again in " + INTERVAL.toSeconds() + " s",
          e);
    }
  }

  private void check() {
    Report now = withDatabase(probeDatabase());
    Report before = report;
    report = now;
    ServingStatus overall = now.serving() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    health.setStatus("", overall);
    for (String service : SERVICES) {
      health.setStatus(service, service.equals(BROKER) && !now.brokerServing()
          ? ServingStatus.NOT_SERVING : overall);
    }
    if (before == null || before.serving() != now.serving()
        || before.brokerServing() != now.brokerServing()) {
      // No agent yet is how every start begins; only a database out of reach is a warning.
      LOG.log(now.serving() ? Level.INFO : Level.WARNING, "health: " + now.describe());
    }
  }

  /** Empty when the database answered in time, else what went wrong. */
  private Optional<String> probeDatabase() {
    // A probe still hanging from an earlier look is waited on again, not joined by another.
    if (probe == null || probe.isDone()) {
      probe = prober.submit(this::selectOne);
    }
    try {
      probe.get(PROBE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      return Optional.empty();
    } catch (TimeoutException e) {
      return Optional.of("no answer within " + PROBE_TIMEOUT.toMillis() + " ms");
    } catch (ExecutionException e) {
      return Optional.of(String.valueOf(e.getCause().getMessage()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.of("the health check was interrupted");
    }
  }

  private Void selectOne() throws SQLException {
    try (Connection connection = database.getConnection()) {
      Database.probe(connection, (int) PROBE_TIMEOUT.toSeconds());
    }
    return null;
  }

  @Override
  public void close() {
    timer.shutdownNow();
    prober.shutdownNow();
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }
}
