package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.HostStatus;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.EventFilter;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmUnavailableException;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.client.VmFilter;
import org.servicefarm.e2e.support.NetworkNamespace;
import org.servicefarm.e2e.support.ProcessFarm;

/**
 * A network partition between an agent and the controller, on real processes: the agent runs in
 * its own network namespace and reaches the controller over a veth pair that the test takes down
 * and brings up again. The agent's VMs live on in libvirt's test driver inside the agent process,
 * so they survive the partition (not a restart). A second host outside the namespace stays
 * healthy throughout, with room for the service: it shows the farm builds no second VM while the
 * first one's host is merely silent.
 */
class NetworkPartitionIntegrationTest {
  private static final String INSIDE = "part-in";
  private static final String OUTSIDE = "part-out";
  private static final String SERVICE = "partitioned-web";
  /** ProcessFarm's --liveness-timeout. */
  private static final Duration LIVENESS_TIMEOUT = Duration.ofSeconds(6);
  /** How often agents report: a host may fall silent up to this long before the cut. */
  private static final Duration REPORT_INTERVAL = Duration.ofSeconds(2);
  /** The liveness check runs every second, on a machine shared with other builds. */
  private static final Duration DOWN_MARGIN = Duration.ofSeconds(4);
  /**
   * Longer than the agent's keepalive (a ping after 10 s of silence, given up 10 s later), so the
   * agent must notice that its connection died and dial again; a shorter cut heals inside TCP.
   */
  private static final Duration PARTITION = Duration.ofSeconds(25);
  /**
   * While the link is down the agent redials about every 3 s (each dial fails with no route to
   * host once ARP gives up), so it is back within one round of the heal; the rest is for a slow
   * machine.
   */
  private static final Duration RETURN_TIMEOUT = Duration.ofSeconds(30);

  @Test
  void partitionedHostGoesDownAndReturnsWithTheSameVmsAndNoDuplicates() throws Exception {
    long testStart = System.nanoTime();
    try (NetworkNamespace net = namespaceOrSkip();
        ProcessFarm farm = new ProcessFarm("test:///default")) {
      farm.listenOn(net.hostAddress());
      farm.startController();
      farm.startAgent(INSIDE, net.execPrefix(), List.of("--address", net.namespaceAddress()));
      farm.awaitConnected(List.of(INSIDE));
      FarmClient client = farm.client();
      client.defineService(ServiceDefinition.newBuilder().setName(SERVICE).addPackages("busybox")
          .setCommand("busybox httpd -f -p 80").setPort(80).setVcpus(1).setMemoryMb(256).build());
      // The only host yet, so the VM is placed behind the link the test cuts.
      ServiceAccess first = client.requestService(SERVICE);
      assertEquals(INSIDE, vm(client, first.vmId()).getHostId());
      // The healthy host joins only now: it could take a new VM, and must not get one.
      farm.startAgent(OUTSIDE);
      farm.awaitConnected(List.of(INSIDE, OUTSIDE));
      Map<String, VmState> before = states(client);
      assertEquals(Map.of(first.vmId(), VmState.VM_STATE_ACTIVE), before);

      net.cut();
      long cutAt = System.nanoTime();
      farm.awaitTrue("host " + INSIDE + " DOWN within the liveness timeout + "
              + DOWN_MARGIN.toSeconds() + " s", LIVENESS_TIMEOUT.plus(DOWN_MARGIN),
          () -> status(client, INSIDE) == HostStatus.HOST_STATUS_DOWN);
      double downAfter = secondsSince(cutAt);
      assertTrue(downAfter >= secondsOf(LIVENESS_TIMEOUT.minus(REPORT_INTERVAL)) - 1.0,
          "host went DOWN " + downAfter + " s after the cut, before the liveness timeout could"
              + " have passed since its last report");
      assertEquals(VmState.VM_STATE_UNKNOWN, vm(client, first.vmId()).getState(),
          "the VM of a silent host is UNKNOWN, not ACTIVE and not gone");
      assertEquals(HostStatus.HOST_STATUS_UP, status(client, OUTSIDE));

      FarmUnavailableException refused = assertThrows(FarmUnavailableException.class,
          () -> client.requestService(SERVICE),
          "the only VM allowed (max_instances 1) is behind the partition");
      assertTrue(refused.getMessage().contains(INSIDE), refused.getMessage());
      assertEquals(List.of(first.vmId()), vmIds(client.listVms(VmFilter.any().offering(SERVICE))),
          "no VM was built on " + OUTSIDE + " while " + INSIDE + " was only silent");

      sleepUntil(cutAt, PARTITION);
      net.heal();
      long healedAt = System.nanoTime();
      farm.awaitTrue("host " + INSIDE + " UP and its VM ACTIVE again", RETURN_TIMEOUT, () ->
          status(client, INSIDE) == HostStatus.HOST_STATUS_UP
              && vm(client, first.vmId()).getState() == VmState.VM_STATE_ACTIVE);
      double activeAfter = secondsSince(healedAt);
      // The agent must have given its dead connection up by keepalive and registered afresh.
      // (Which brings the host back first is a race: the new stream's Register, or the reports
      // the agent had written to the old socket, which the kernel still delivers after the heal.)
      farm.awaitTrue("agent " + INSIDE + " registered again after the heal", RETURN_TIMEOUT,
          () -> registrations(farm, INSIDE) >= 2);

      Map<String, VmState> after = states(client);
      assertEquals(before, after, "the same VMs, in the same states, after the partition");
      ServiceAccess again = client.requestService(SERVICE);
      assertEquals(first.vmId(), again.vmId(), "the VM from before the partition serves again");
      assertFalse(again.created(), "nothing was built to answer");

      List<Event> hostEvents = hostStatusEvents(client, INSIDE);
      assertEquals(List.of("UP", "DOWN", "UP"), hostEvents.stream().map(Event::getToState).toList(),
          "registered, lost, back: " + hostEvents);
      assertEquals(List.of("ACTIVE", "UNKNOWN", "ACTIVE"), lastStates(client, first.vmId(), 3));
      // Streams are not cut otherwise, e.g. by the controller refusing the agents' keepalive
      // pings (GOAWAY too_many_pings) after about 20 s.
      assertEquals(1, registrations(farm, OUTSIDE), "the healthy host's stream was cut:\n"
          + farm.logs());
      assertEquals(2, registrations(farm, INSIDE), "the partitioned host registered other than"
          + " at start and after the heal:\n" + farm.logs());

      long duplicated = after.keySet().stream().filter(id -> !before.containsKey(id)).count();
      long lost = before.keySet().stream().filter(id -> !after.containsKey(id)).count();
      System.out.printf(Locale.ROOT, "partition: cut after %.1f s, host DOWN after %.1f s (timeout"
              + " %d s), healed after %.1f s, ACTIVE again after %.1f s, VMs before=%s, after=%s,"
              + " duplicated: %d, lost: %d%n",
          (cutAt - testStart) / 1e9, downAfter, LIVENESS_TIMEOUT.toSeconds(),
          (healedAt - cutAt) / 1e9, activeAfter, brief(before), brief(after), duplicated, lost);
    }
  }

  /**
   * The namespace, or the test skipped loudly when this machine cannot make one; in CI (CI=true)
   * it fails instead, because CI must run the partition test.
   */
  private static NetworkNamespace namespaceOrSkip() throws InterruptedException {
    try {
      return NetworkNamespace.create("sfpart");
    } catch (IOException e) {
      String why = "cannot create a network namespace (" + e.getMessage() + "): the network"
          + " partition test SKIPPED; it needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2";
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError(why.replace("SKIPPED", "cannot run, and CI must run it"), e);
      }
      System.err.println("WARNING: " + why);
      return Assumptions.abort(why);
    }
  }

  /** How often the host's agent has registered with the controller, from its log. */
  private static int registrations(ProcessFarm farm, String hostId) {
    Path log = farm.dir().resolve("logs").resolve("agent-" + hostId + ".log");
    try (Stream<String> lines = Files.lines(log)) {
      return (int) lines.filter(line -> line.contains("registered with controller")).count();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + log, e);
    }
  }

  private static Vm vm(FarmClient client, String vmId) {
    return client.getVm(vmId);
  }

  private static HostStatus status(FarmClient client, String hostId) {
    return client.listHosts().stream().filter(h -> h.getId().equals(hostId)).findFirst()
        .map(Host::getStatus).orElseThrow(() -> new AssertionError("no host " + hostId));
  }

  private static Map<String, VmState> states(FarmClient client) {
    return client.listVms().stream().collect(Collectors.toMap(Vm::getId, Vm::getState));
  }

  private static List<String> vmIds(List<Vm> vms) {
    return vms.stream().map(Vm::getId).toList();
  }

  private static List<Event> hostStatusEvents(FarmClient client, String hostId) {
    return client.listEvents(EventFilter.any().onHost(hostId).limit(1000)).stream()
        .filter(e -> e.getKind().equals("HOST_STATUS"))
        .sorted(Comparator.comparingLong(Event::getId)).toList();
  }

  /** The VM's last n states, oldest first, from its VM_STATE events. */
  private static List<String> lastStates(FarmClient client, String vmId, int n) {
    List<String> states = client.listEvents(EventFilter.any().forVm(vmId).limit(1000)).stream()
        .filter(e -> e.getKind().equals("VM_STATE"))
        .sorted(Comparator.comparingLong(Event::getId)).map(Event::getToState).toList();
    return states.subList(Math.max(0, states.size() - n), states.size());
  }

  private static String brief(Map<String, VmState> states) {
    return states.entrySet().stream()
        .map(e -> e.getKey().substring(0, 8) + ":" + e.getValue().name().replace("VM_STATE_", ""))
        .sorted().collect(Collectors.joining(",", "[", "]"));
  }

  private static void sleepUntil(long startNanos, Duration after) throws InterruptedException {
    long left = startNanos + after.toNanos() - System.nanoTime();
    if (left > 0) {
      Thread.sleep(left / 1_000_000, (int) (left % 1_000_000));
    }
  }

  private static double secondsSince(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  private static double secondsOf(Duration d) {
    return d.toMillis() / 1000.0;
  }
}
