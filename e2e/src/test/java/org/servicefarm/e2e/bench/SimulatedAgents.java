package org.servicefarm.e2e.bench;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.servicefarm.api.v1.AgentControlGrpc;
import org.servicefarm.api.v1.AgentMessage;
import org.servicefarm.api.v1.Alive;
import org.servicefarm.api.v1.ControllerMessage;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.HostCapacity;
import org.servicefarm.api.v1.HostLoad;
import org.servicefarm.api.v1.LoadReport;
import org.servicefarm.api.v1.PortForward;
import org.servicefarm.api.v1.PowerState;
import org.servicefarm.api.v1.Register;
import org.servicefarm.e2e.support.BulkFarmRows;

/**
 * Many agents in this JVM, without libvirt: each one AgentControl.Connect stream over a few
 * shared plaintext channels, registering host {@link BulkFarmRows#hostId}(i) with its VMs running
 * (as {@link BulkFarmRows} placed them), then reporting every interval, with the agents' reports
 * spread evenly over it. What a report says is the {@link Reports} mode's, for every agent.
 */
final class SimulatedAgents implements AutoCloseable {
  /** What every agent's next reports say. */
  enum Reports {
    /** The whole report, the same each time: what the previous release's agent sends. */
    WHOLE,
    /** Alive: nothing changed (to a controller that takes delta reports). */
    ALIVE,
    /** A new load each time, alone (inventory_unchanged). */
    NEW_LOAD,
    /** Nothing at all: the agents are silent (kept shorter than the liveness timeout). */
    SILENT
  }

  // Registrations in flight at once: each is a few transactions on the controller.
  private static final int REGISTERING_AT_ONCE = 64;

  private final List<ManagedChannel> channels = new ArrayList<>();
  private final ScheduledExecutorService timer = Executors.newScheduledThreadPool(2);
  private final List<StreamObserver<AgentMessage>> streams = new ArrayList<>();
  private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
  private final AtomicLong reportsSent = new AtomicLong();
  private volatile Reports mode = Reports.WHOLE;
  private int registeredSoFar;

  SimulatedAgents(String target, int channelCount) {
    for (int i = 0; i < channelCount; i++) {
      channels.add(NettyChannelBuilder.forTarget(target).usePlaintext().build());
    }
  }

  /**
   * Registers the hosts after those already registered, up to host {@code count}, and returns
   * once every one is registered and reporting.
   */
  void growTo(int count, int vmsPerHost, Duration interval) throws InterruptedException {
    CountDownLatch registered = new CountDownLatch(count - registeredSoFar);
    Semaphore registering = new Semaphore(REGISTERING_AT_ONCE);
    for (int host = registeredSoFar + 1; host <= count; host++) {
      registering.acquire();
      List<DomainStatus> inventory = new ArrayList<>();
      for (int v = (host - 1) * vmsPerHost + 1; v <= host * vmsPerHost; v++) {
        inventory.add(DomainStatus.newBuilder().setVmId(BulkFarmRows.vmId(v).toString())
            .setGeneration(1).setPower(PowerState.POWER_STATE_RUNNING)
            .addPorts(PortForward.newBuilder().setGuestPort(BulkFarmRows.GUEST_PORT)
                .setHostPort(20000 + v % 20000))
            .build());
      }
      String hostId = BulkFarmRows.hostId(host);
      AtomicReference<StreamObserver<AgentMessage>> stream = new AtomicReference<>();
      stream.set(AgentControlGrpc.newStub(channels.get(host % channels.size()))
          .connect(new StreamObserver<>() {
            @Override
            public void onNext(ControllerMessage m) {
              if (m.hasRegistered()) {
                if (!m.getRegistered().getDeltaReports()) {
                  failures.add(hostId + ": the controller takes no delta reports");
                }
                registering.release();
                registered.countDown();
                long firstMillis = ThreadLocalRandom.current().nextLong(interval.toMillis());
                timer.scheduleAtFixedRate(() -> report(stream.get(), inventory),
                    firstMillis, interval.toMillis(), TimeUnit.MILLISECONDS);
              }
            }

            @Override
            public void onError(Throwable t) {
              failures.add(hostId + ": " + t);
              registering.release();
            }

            @Override
            public void onCompleted() {
              failures.add(hostId + ": the controller ended the stream");
            }
          }));
      synchronized (streams) {
        streams.add(stream.get());
      }
      stream.get().onNext(AgentMessage.newBuilder().setRegister(Register.newBuilder()
          .setHostId(hostId).setAddress("127.0.0.1").setHypervisor("test")
          .setCapacity(HostCapacity.newBuilder().setVcpus(4096).setMemoryMb(16777216)
              .setDiskMb(100000000))
          .setLoad(load(0)).addAllInventory(inventory).setAgentVersion("benchmark")).build());
    }
    if (!registered.await(3, TimeUnit.MINUTES)) {
      throw new AssertionError(registered.getCount() + " agents not registered; failures: "
          + failures.stream().limit(5).toList());
    }
    registeredSoFar = count;
  }

  /** From now on every agent's reports are of this kind. */
  void send(Reports reports) {
    mode = reports;
  }

  long reportsSent() {
    return reportsSent.get();
  }

  List<String> failures() {
    return List.copyOf(failures);
  }

  private void report(StreamObserver<AgentMessage> stream, List<DomainStatus> inventory) {
    Reports now = mode;
    if (now == Reports.SILENT) {
      return;
    }
    long n = reportsSent.incrementAndGet();
    // The scheduler runs one agent's reports one at a time, so its stream is never shared.
    stream.onNext(switch (now) {
      case WHOLE -> AgentMessage.newBuilder().setLoad(LoadReport.newBuilder()
          .setLoad(load(0)).addAllDomains(inventory)).build();
      case ALIVE -> ALIVE;
      case NEW_LOAD -> AgentMessage.newBuilder().setLoad(LoadReport.newBuilder()
          .setLoad(load(n % 100)).setInventoryUnchanged(true)).build();
      case SILENT -> throw new IllegalStateException("a silent agent sends nothing");
    });
  }

  private static final AgentMessage ALIVE =
      AgentMessage.newBuilder().setAlive(Alive.getDefaultInstance()).build();

  private static HostLoad.Builder load(long cpu) {
    return HostLoad.newBuilder().setCpuPercent(5 + cpu * 0.5).setMemoryUsedMb(1024)
        .setMemoryTotalMb(16777216).setVmCount(2).setDiskFreeMb(90000000);
  }

  @Override
  public void close() {
    timer.shutdownNow();
    synchronized (streams) {
      for (StreamObserver<AgentMessage> s : streams) {
        s.onCompleted();
      }
    }
    channels.forEach(ManagedChannel::shutdownNow);
  }
}
