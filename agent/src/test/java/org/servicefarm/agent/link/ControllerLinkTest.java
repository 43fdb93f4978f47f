package org.servicefarm.agent.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.agent.hypervisor.DomainSpec;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.WorkClock;
import org.servicefarm.agent.hypervisor.libvirt.HostPortAllocator;
import org.servicefarm.agent.hypervisor.libvirt.HostSettings;
import org.servicefarm.agent.hypervisor.libvirt.LibvirtConnection;
import org.servicefarm.agent.hypervisor.libvirt.LibvirtHypervisor;
import org.servicefarm.agent.hypervisor.storage.DiskStore;
import org.servicefarm.agent.hypervisor.storage.PathOnlyDiskStore;
import org.servicefarm.agent.hypervisor.storage.QemuDiskStore;
import org.servicefarm.agent.hypervisor.storage.QemuImg;
import org.servicefarm.agent.hypervisor.storage.VmArchives;
import org.servicefarm.agent.images.BlobDigest;
import org.servicefarm.agent.images.FakeImageStoreForTest;
import org.servicefarm.agent.images.ImageCache;
import org.servicefarm.agent.load.HostLoadProbe;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.HostCapacity;
import org.servicefarm.api.v1.ImageRef;
import org.servicefarm.api.v1.InstallVm;
import org.servicefarm.api.v1.LoadReport;
import org.servicefarm.api.v1.PowerState;
import org.servicefarm.api.v1.Register;
import org.servicefarm.api.v1.ResumeVm;
import org.servicefarm.api.v1.StartVm;
import org.servicefarm.api.v1.SuspendVm;

/** The agent's link against an in-process controller, with libvirt's test driver below it. */
class ControllerLinkTest {

  private static final long WAIT_SECONDS = 10;

  @TempDir
  Path stateDir;

  private final String serverName = "controller-" + UUID.randomUUID();
  private FakeControllerForTest controller;
  private FakeImageStoreForTest imageStore;
  private Server server;
  private LibvirtHypervisor hypervisor;
  private ControllerLink link;

  @BeforeEach
  void startControllerAndAgent() throws Exception {
    controller = new FakeControllerForTest(1);
    server = startServer(controller);
    imageStore = FakeImageStoreForTest.started();
    startAgent(new PathOnlyDiskStore(stateDir));
  }

  private void startAgent(DiskStore disks) {
    hypervisor = new LibvirtHypervisor(new LibvirtConnection("test:///default"),
        new HostSettings("host-1", HypervisorKind.TEST, "127.0.0.1"), disks,
        new VmArchives(stateDir, imageStore.transfers()), new HostPortAllocator(20000, 29999));
    link = new ControllerLink(
        new LinkSettings("host-1", "192.0.2.10", List.of(serverName),
            HostCapacity.newBuilder().setVcpus(4).setMemoryMb(8192).build(), "test-version"),
        target -> InProcessChannelBuilder.forName(target).build(),
        hypervisor, new HostLoadProbe(Path.of("/proc"), stateDir));
  }

  @AfterEach
  void stopEverything() throws Exception {
    link.close();
    hypervisor.close();
    imageStore.close();
    server.shutdownNow().awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS);
  }

  private Server startServer(FakeControllerForTest service) throws Exception {
    return InProcessServerBuilder.forName(serverName).addService(service).build().start();
  }

  private static <T> T next(BlockingQueue<T> queue, String what) throws InterruptedException {
    T item = queue.poll(WAIT_SECONDS, TimeUnit.SECONDS);
    assertNotNull(item, "no " + what + " within " + WAIT_SECONDS + " s");
    return item;
  }

  private static String vmId(String label) {
    return label + "-" + UUID.randomUUID();
  }

  private static Command install(String vmId, long generation, int guestPort) {
    return Command.newBuilder().setCommandId("install-" + generation).setVmId(vmId)
        .setGeneration(generation)
        .setInstall(InstallVm.newBuilder().setImage(ImageRef.newBuilder().setName("redis"))
            .setVcpus(1).setMemoryMb(256).addGuestPorts(guestPort))
        .build();
  }

  private static Command start(String vmId, long generation) {
    return Command.newBuilder().setCommandId("start-" + generation).setVmId(vmId)
        .setGeneration(generation).setStart(StartVm.getDefaultInstance()).build();
  }

  private static boolean holds(List<DomainStatus> domains, String vmId) {
    return domains.stream().anyMatch(domain -> domain.getVmId().equals(vmId));
  }

  @Test
  void registersWithItsInventoryAndThenReportsLoad() throws Exception {
    String vmId = vmId("known");
    hypervisor.install(new DomainSpec(vmId, 4, ImageRef.getDefaultInstance(), 1, 64, List.of(22)));
    link.start();

    Register register = next(controller.registrations, "registration");
    assertEquals("host-1", register.getHostId());
    assertEquals("192.0.2.10", register.getAddress());
    assertEquals("test", register.getHypervisor());
    assertEquals(4, register.getCapacity().getVcpus());
    assertEquals("test-version", register.getAgentVersion());
    assertEquals(ControllerLink.PROTOCOL_VERSION, register.getProtocolVersion(),
        "the registration names the protocol version the controller checks");
    assertTrue(holds(register.getInventoryList(), vmId), "inventory lacks " + vmId);
    assertFalse(holds(register.getInventoryList(), "test"), "foreign domain reported");

    for (int i = 0; i < 2; i++) {
      LoadReport report = next(controller.loadReports, "load report");
      assertTrue(report.getLoad().getMemoryTotalMb() > 0, "memory total missing: " + report);
      assertTrue(holds(report.getDomainsList(), vmId), "report lacks " + vmId);
    }
  }

  @Test
  void installAndStartAnswerRunningWithAHostPort() throws Exception {
    link.start();
    next(controller.registrations, "registration");
    String vmId = vmId("web");

    controller.send(install(vmId, 1, 8080));
    controller.send(start(vmId, 1));

    CommandResult installed = next(controller.results, "install result");
    assertEquals("install-1", installed.getCommandId());
    assertTrue(installed.getOk(), installed.getError());
    CommandResult started = next(controller.results, "start result");
    assertEquals("start-1", started.getCommandId());
    assertTrue(started.getOk(), started.getError());
    assertEquals(PowerState.POWER_STATE_RUNNING, started.getStatus().getPower());
    assertEquals(8080, started.getStatus().getPorts(0).getGuestPort());
    int hostPort = started.getStatus().getPorts(0).getHostPort();
    assertTrue(hostPort >= 20000 && hostPort <= 29999, "host port " + hostPort);
  }

  @Test
  void aWakesResultSaysWhenItWasReceivedAndWhenTheRestoreBeganAndEnded() throws Exception {
    link.start();
    next(controller.registrations, "registration");
    String vmId = vmId("sleeper");
    controller.send(install(vmId, 1, 8080));
    controller.send(start(vmId, 1));
    controller.send(Command.newBuilder().setCommandId("suspend-2").setVmId(vmId)
        .setGeneration(2).setSuspend(SuspendVm.getDefaultInstance()).build());
    long sentMicros = WorkClock.nowMicros();
    controller.send(Command.newBuilder().setCommandId("resume-3").setVmId(vmId)
        .setGeneration(3).setResume(ResumeVm.getDefaultInstance()).build());

    CommandResult woken = null;
    for (int i = 0; i < 4; i++) {
      woken = next(controller.results, "result " + i);
    }
    long answeredMicros = WorkClock.nowMicros();
    assertEquals("resume-3", woken.getCommandId());
    assertTrue(woken.getOk(), woken.getError());
    assertEquals(PowerState.POWER_STATE_RUNNING, woken.getStatus().getPower());
    // Each hop no earlier than the one before: the controller lays them out as a timeline.
    List<Long> hops = List.of(sentMicros, woken.getReceivedMicros(), woken.getWorkStartedMicros(),
        woken.getWorkDoneMicros(), answeredMicros);
    assertEquals(hops.stream().sorted().toList(), hops, "hops out of order: " + hops);
  }

  @Test
  void aCommandOfAKindOnlyANewerControllerKnowsIsRefusedNamingIt() throws Exception {
    link.start();
    next(controller.registrations, "registration");
    // What a newer controller's new action looks like here: a field this agent's protocol lacks.
    controller.send(Command.newBuilder().setCommandId("future-1").setVmId(vmId("future"))
        .setGeneration(1).setUnknownFields(com.google.protobuf.UnknownFieldSet.newBuilder()
            .addField(42, com.google.protobuf.UnknownFieldSet.Field.newBuilder()
                .addVarint(1).build()).build()).build());

    CommandResult result = next(controller.results, "result of the unknown command");
    assertEquals("future-1", result.getCommandId());
    assertFalse(result.getOk());
    assertEquals(CommandError.COMMAND_ERROR_INVALID, result.getErrorKind());
    assertTrue(result.getError().contains("names no action this agent knows (field [42]: the"
        + " controller is newer than this agent)"), result.getError());
  }

  @Test
  void commandOlderThanTheVmsGenerationIsRefused() throws Exception {
    link.start();
    next(controller.registrations, "registration");
    String vmId = vmId("stale");
    controller.send(install(vmId, 5, 80));
    assertTrue(next(controller.results, "install result").getOk());

    controller.send(start(vmId, 3));

    CommandResult refused = next(controller.results, "stale start result");
    assertFalse(refused.getOk());
    assertEquals("stale generation 3 < 5", refused.getError());
    assertEquals(CommandError.COMMAND_ERROR_STALE_GENERATION, refused.getErrorKind());
    assertEquals(PowerState.POWER_STATE_SHUT_OFF,
        hypervisor.status(vmId).orElseThrow().getPower(), "stale start touched the VM");
  }

  @Test
  void commandForAVmThisHostDoesNotHaveFailsAsNotFound() throws Exception {
    link.start();
    next(controller.registrations, "registration");
    String vmId = vmId("nowhere");

    controller.send(start(vmId, 1));

    CommandResult result = next(controller.results, "start result");
    assertFalse(result.getOk());
    assertEquals(CommandError.COMMAND_ERROR_NOT_FOUND, result.getErrorKind());
    assertTrue(result.getError().contains(vmId), result.getError());
  }

  @Test
  void aControllerOfThePreviousReleaseGetsEveryReportWhole() throws Exception {
    link.start();
    next(controller.registrations, "registration");
    for (int i = 0; i < 3; i++) {
      LoadReport report = next(controller.loadReports, "load report");
      assertFalse(report.getInventoryUnchanged(), "a delta to a controller that took none");
    }
    assertTrue(controller.quiet.isEmpty(), "Alive sent to a controller that does not know it");
  }

  @Test
  void aQuietHostSaysOnlyAliveToAControllerThatTakesDeltas() throws Exception {
    controller.deltaReports = true;
    String vmId = vmId("quiet");
    hypervisor.install(new DomainSpec(vmId, 4, ImageRef.getDefaultInstance(), 1, 64, List.of(22)));
    link.start();
    next(controller.registrations, "registration");
    // The domains do not change, so each report is Alive or, when this machine's CPU use moved
    // a point or more, the load alone.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (controller.quiet.isEmpty() && System.nanoTime() < deadline) {
      LoadReport report = controller.loadReports.poll(100, TimeUnit.MILLISECONDS);
      if (report != null) {
        assertTrue(report.getInventoryUnchanged(), "whole report of an unchanged host: " + report);
        assertEquals(0, report.getDomainsCount(), "a delta repeats no domain");
      }
    }
    assertFalse(controller.quiet.isEmpty(), "no Alive within " + WAIT_SECONDS + " s");

    // A domain changes: the next report is whole again and lists it.
    String added = vmId("added");
    hypervisor.install(new DomainSpec(added, 4, ImageRef.getDefaultInstance(), 1, 64, List.of(23)));
    controller.loadReports.clear();
    LoadReport whole;
    do {
      whole = next(controller.loadReports, "whole report after a change");
    } while (whole.getInventoryUnchanged());
    assertTrue(holds(whole.getDomainsList(), added), "report lacks " + added);
    assertTrue(holds(whole.getDomainsList(), vmId), "report lacks " + vmId);
  }

  @Test
  void registrationAndLoadReportsListTheCachedImages() throws Exception {
    link.close();
    hypervisor.close();
    ImageCache cache = new ImageCache(stateDir.resolve("cache"), Long.MAX_VALUE,
        imageStore.transfers());
    BlobDigest cached = imageStore.add("a base image".getBytes(StandardCharsets.UTF_8));
    cache.ensure(cached, 0, "image base (disk)").close();
    startAgent(new QemuDiskStore(stateDir, cache, new QemuImg()));
    link.start();

    assertEquals(List.of(cached.hex()),
        next(controller.registrations, "registration").getCachedImagesList());
    assertEquals(List.of(cached.hex()),
        next(controller.loadReports, "load report").getCachedImagesList());
  }

  @Test
  void registersAgainWithItsInventoryAfterTheControllerRestarts() throws Exception {
    link.start();
    next(controller.registrations, "first registration");
    String vmId = vmId("survivor");
    controller.send(install(vmId, 1, 80));
    controller.send(start(vmId, 1));
    next(controller.results, "install result");
    next(controller.results, "start result");

    server.shutdownNow().awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS);
    Thread.sleep(500); // let a dial or two fail against the stopped controller
    FakeControllerForTest restarted = new FakeControllerForTest(1);
    server = startServer(restarted);

    Register again = next(restarted.registrations, "registration after restart");
    DomainStatus survivor = again.getInventoryList().stream()
        .filter(domain -> domain.getVmId().equals(vmId)).findFirst().orElseThrow();
    assertEquals(PowerState.POWER_STATE_RUNNING, survivor.getPower());
    next(restarted.loadReports, "load report after restart");
  }

  @Test
  void closingTheLinkEndsTheStreamCleanly() throws Exception {
    link.start();
    next(controller.registrations, "registration");

    link.close();

    assertTrue(controller.agentHalfClosed.await(WAIT_SECONDS, TimeUnit.SECONDS),
        "controller never saw the agent finish its stream");
  }
}
