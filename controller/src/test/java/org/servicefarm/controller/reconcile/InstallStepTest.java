package org.servicefarm.controller.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.servicefarm.api.v1.Command;
import org.servicefarm.api.v1.CommandError;
import org.servicefarm.api.v1.CommandProgress;
import org.servicefarm.api.v1.CommandResult;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/** INSTALL: what a PROVISIONING VM becomes after its host is told to install it. */
class InstallStepTest {
  @TempDir
  static Path keys;
  private static StepFarm farm;

  private final ScriptedAgents agents = new ScriptedAgents();
  private ImmediateImageBuilds builds;
  private ReconcileSteps steps;
  private String host;

  @BeforeAll
  static void database() throws IOException {
    farm = StepFarm.open(keys);
  }

  @AfterAll
  static void close() {
    farm.close();
  }

  @BeforeEach
  void connectedHost() {
    builds = new ImmediateImageBuilds(farm.db, farm.images);
    steps = farm.steps(agents, builds);
    host = farm.host();
  }

  private VmRecord provisioning(boolean stateless) {
    return farm.vm(farm.definition(stateless), host, VmState.PROVISIONING);
  }

  @Test
  void anInstalledVmIsRecordedStartingAndItsWaitersHearIt() {
    VmRecord vm = provisioning(false);
    agents.connect(host).caching(digest(vm));
    UUID request = farm.requestFor(vm);
    CompletableFuture<VmRecord> starting =
        farm.watcher.await(vm.id(), v -> v.state() == VmState.STARTING);

    assertTrue(steps.run(ReconcilePlan.Step.INSTALL, vm));

    assertEquals(VmState.STARTING, farm.current(vm).state());
    assertEquals("installed on host " + host, farm.lastCause(vm));
    assertTrue(starting.isDone(), "whoever waits for the VM hears the row");
    Command sent = agents.connect(host).sent().get(0);
    assertEquals(Command.ActionCase.INSTALL, sent.getActionCase());
    assertEquals(vm.id().toString(), sent.getVmId());
    assertEquals(digest(vm), sent.getInstall().getImage().getSha256());
    assertFalse(sent.getInstall().getKeepDisk(), "a new VM has no disk to keep");
    assertEquals(OperationPhase.INSTALLING, farm.request(request).phase());
    assertEquals("installing on host " + host, farm.request(request).message());
  }

  @Test
  void aHostWithoutTheImageFetchesItAndTheRequestSaysHowFar() {
    VmRecord vm = provisioning(false);
    agents.connect(host).reportsThenAnswers(Command.ActionCase.INSTALL, List.of(
        CommandProgress.newBuilder().setPhase("transferring").setDoneBytes(1024)
            .setTotalBytes(4096).build(),
        CommandProgress.newBuilder().setPhase("installing").build()), ScriptedAgents.ok());
    UUID request = farm.requestFor(vm);
    List<String> messages = new CopyOnWriteArrayList<>();
    farm.operations.subscribe(request, row -> messages.add(row.phase() + ": " + row.message()));

    assertTrue(steps.run(ReconcilePlan.Step.INSTALL, vm));

    assertEquals(3, messages.size(), messages.toString());
    assertEquals("TRANSFERRING: fetching the image to host " + host, messages.get(0));
    assertTrue(messages.get(1).startsWith("TRANSFERRING: fetching the image to host " + host
        + ": "), messages.get(1));
    assertEquals("INSTALLING: installing on host " + host, messages.get(2));
    assertEquals(OperationPhase.INSTALLING, farm.request(request).phase());
  }

  @Test
  void aComposedImageIsBuiltBeforeItsFirstInstall() {
    StepFarm.Definition composed = farm.composedDefinition();
    VmRecord vm = farm.vm(composed, host, VmState.PROVISIONING);
    agents.connect(host);
    UUID request = farm.requestFor(vm);
    List<OperationPhase> phases = new CopyOnWriteArrayList<>();
    farm.operations.subscribe(request, row -> phases.add(row.phase()));

    assertTrue(steps.run(ReconcilePlan.Step.INSTALL, vm));

    assertEquals(List.of(composed.imageId()), builds.asked());
    assertEquals(List.of(OperationPhase.BUILDING_IMAGE, OperationPhase.TRANSFERRING), phases);
    assertFalse(agents.connect(host).sent().get(0).getInstall().getImage().getSha256().isEmpty(),
        "the host is sent the built image's digest");
  }

  @Test
  void aSimulatedHostIsNotMadeToWaitForABuild() {
    VmRecord vm = farm.vm(farm.composedDefinition(), host, VmState.PROVISIONING);
    agents.connect(host).simulatingVms();
    UUID request = farm.requestFor(vm);

    assertTrue(steps.run(ReconcilePlan.Step.INSTALL, vm));

    assertEquals(List.of(), builds.asked());
    assertEquals(OperationPhase.INSTALLING, farm.request(request).phase());
  }

  @Test
  void aFailedBuildFailsTheVmWithItsReasonAndTellsTheHostNothing() {
    VmRecord vm = farm.vm(farm.composedDefinition(), host, VmState.PROVISIONING);
    agents.connect(host);
    builds.failingWith("package busybox not found");

    assertTrue(steps.run(ReconcilePlan.Step.INSTALL, vm));

    assertEquals(VmState.FAILED, farm.current(vm).state());
    assertEquals("package busybox not found", farm.current(vm).failureReason());
    assertEquals(List.of(), agents.connect(host).sent());
  }

  @ParameterizedTest(name = "{0} \"{1}\" leaves the VM {2}")
  @CsvSource({
      "ok, '', STARTING, true, installed on host",
      "COMMAND_ERROR_HYPERVISOR, libvirt refused the domain, FAILED, true,"
          + " command failed: libvirt refused the domain",
      "COMMAND_ERROR_IMAGE, digest mismatch, FAILED, true, command failed: digest mismatch",
      "COMMAND_ERROR_UNSPECIFIED, '', FAILED, true,"
          + " command failed: agent reported failure without a reason",
      "COMMAND_ERROR_STALE_GENERATION, a newer command came, PROVISIONING, false, placed on host",
      "COMMAND_ERROR_UNAVAILABLE, libvirtd restarting, PROVISIONING, false, placed on host",
      "COMMAND_ERROR_NO_SPACE, 9 MB free of 4096 needed, PROVISIONING, false,"
          + " install on host HOST waits for room: 9 MB free of 4096 needed",
      "COMMAND_ERROR_DISK_LOST, overlay missing, FAILED, true, disk lost on host HOST",
  })
  void theInstallsResultDecidesWhatTheVmIsRecorded(String answer, String error,
      VmState recorded, boolean moved, String causeBeginning) {
    VmRecord vm = provisioning(false);
    agents.connect(host).answers(Command.ActionCase.INSTALL, answer.equals("ok")
        ? ScriptedAgents.ok() : ScriptedAgents.failed(CommandError.valueOf(answer), error));

    assertEquals(moved, steps.run(ReconcilePlan.Step.INSTALL, vm));

    assertEquals(recorded, farm.current(vm).state());
    String cause = farm.lastCause(vm);
    assertTrue(cause.startsWith(causeBeginning.replace("HOST", host)), cause);
  }

  @Test
  void aHostOutOfRoomIsRecordedOnceWhileTheInstallWaitsAndAgainAfterItWentThrough() {
    VmRecord vm = provisioning(false);
    CommandResult full = ScriptedAgents.failed(CommandError.COMMAND_ERROR_NO_SPACE, "disk full");
    agents.connect(host).answers(Command.ActionCase.INSTALL, full, full, ScriptedAgents.ok(),
        full);

    assertFalse(steps.run(ReconcilePlan.Step.INSTALL, vm));
    assertFalse(steps.run(ReconcilePlan.Step.INSTALL, vm));

    assertEquals(1, waitsForRoom(vm), farm.causes(vm).toString());
    assertEquals(VmState.PROVISIONING, farm.current(vm).state());
    assertEquals(2, agents.connect(host).sent().size(), "each sweep sends the install again");

    assertTrue(steps.run(ReconcilePlan.Step.INSTALL, vm));
    VmRecord again = farm.moved(vm, VmState.PROVISIONING); // its domain went; installed anew
    assertFalse(steps.run(ReconcilePlan.Step.INSTALL, again));
    assertEquals(2, waitsForRoom(vm), farm.causes(vm).toString());
  }

  private long waitsForRoom(VmRecord vm) {
    return farm.causes(vm).stream().filter(c -> c.contains("waits for room")).count();
  }

  @Test
  void aVmWhoseDiskWasLostComesBackFromItsArchiveSayingWhatIsLost() {
    VmRecord archived = farm.vm(farm.definition(false), host, VmState.RESTORING);
    VmRecord vm = farm.moved(archived, VmState.STARTING, VmState.ACTIVE, VmState.PROVISIONING);
    agents.connect(host).answers(Command.ActionCase.INSTALL,
        ScriptedAgents.failed(CommandError.COMMAND_ERROR_DISK_LOST, "state directory wiped"));

    assertTrue(steps.run(ReconcilePlan.Step.INSTALL, vm));

    VmRecord after = farm.current(vm);
    assertEquals(VmState.ARCHIVED, after.state());
    assertNull(after.hostId(), "restored wherever placement puts it");
    assertEquals(archived.archiveRef(), after.archiveRef());
    assertTrue(farm.lastCause(vm).contains("restoring it from its newest archive"),
        farm.lastCause(vm));
    assertTrue(farm.lastCause(vm).contains("since then is lost"), farm.lastCause(vm));
  }

  @ParameterizedTest(name = "stateless {0}, has served {1}: keep its disk {2}")
  @CsvSource({"false, false, false", "false, true, true", "true, false, false",
      "true, true, false"})
  void onlyAVmThatServedAndIsNotStatelessKeepsItsDisk(boolean stateless, boolean served,
      boolean keepDisk) {
    VmRecord vm = provisioning(stateless);
    if (served) {
      vm = farm.moved(vm, VmState.STARTING, VmState.ACTIVE, VmState.PROVISIONING);
    }
    agents.connect(host);

    steps.run(ReconcilePlan.Step.INSTALL, vm);

    assertEquals(keepDisk, agents.connect(host).sent().get(0).getInstall().getKeepDisk());
  }

  @Test
  void aStatelessVmThatServedIsInstalledWithANewDiskAndItsEventSaysWhy() {
    StepFarm.Definition stateless = farm.definition(true);
    VmRecord vm = farm.moved(farm.vm(stateless, host, VmState.PROVISIONING), VmState.STARTING,
        VmState.ACTIVE, VmState.PROVISIONING);
    agents.connect(host).answers(Command.ActionCase.INSTALL,
        ScriptedAgents.ok().toBuilder().setNewDisk(true).build());

    assertTrue(steps.run(ReconcilePlan.Step.INSTALL, vm));

    assertEquals(VmState.STARTING, farm.current(vm).state());
    assertEquals("installed on host " + host + " with a new disk from its image: its disk was"
        + " lost, and definition " + stateless.name() + " is stateless", farm.lastCause(vm));
  }

  @Test
  void aHostWhoseAgentIsNotConnectedIsToldNothingAndTheVmWaits() {
    VmRecord vm = provisioning(false);
    agents.connect(host).disconnect();

    FarmException.Unavailable refused = assertThrows(FarmException.Unavailable.class,
        () -> steps.run(ReconcilePlan.Step.INSTALL, vm));

    assertTrue(refused.getMessage().contains("host " + host + " of VM " + vm.id()),
        refused.getMessage());
    assertEquals(VmState.PROVISIONING, farm.current(vm).state());
    assertEquals(List.of(), builds.asked());
    assertEquals(List.of(), agents.connect(host).sent());
  }

  @Test
  void anAgentThatGoesOrNeverAnswersLeavesTheVmProvisioning() {
    VmRecord gone = provisioning(false);
    agents.connect(host).goesAwayOn(Command.ActionCase.INSTALL);
    assertThrows(FarmException.Unavailable.class,
        () -> steps.run(ReconcilePlan.Step.INSTALL, gone));
    assertEquals(VmState.PROVISIONING, farm.current(gone).state());

    VmRecord silent = provisioning(false);
    agents.connect(host).neverAnswers(Command.ActionCase.INSTALL);
    FarmException.Unavailable timedOut = assertThrows(FarmException.Unavailable.class,
        () -> steps.run(ReconcilePlan.Step.INSTALL, silent));
    assertTrue(timedOut.getMessage().contains("did not answer"), timedOut.getMessage());
    assertEquals(VmState.PROVISIONING, farm.current(silent).state());
  }

  private static String digest(VmRecord vm) {
    return farm.db.inTransaction(tx -> farm.images.find(tx, vm.imageId())).orElseThrow()
        .sha256();
  }
}
