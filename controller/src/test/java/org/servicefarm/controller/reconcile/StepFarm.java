package org.servicefarm.controller.reconcile;

import io.grpc.Status;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.EventRepository;
import org.servicefarm.controller.db.FencedDatabase;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.db.ManifestRepository;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.OperationRepository;
import org.servicefarm.controller.db.OperationRepository.OperationRow;
import org.servicefarm.controller.db.ProjectRepository;
import org.servicefarm.controller.db.VmRepository;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;
import org.servicefarm.controller.images.manifests.ManifestKeyring;
import org.servicefarm.controller.images.manifests.ManifestService;
import org.servicefarm.controller.model.HostRecord.HostLoad;
import org.servicefarm.controller.model.ImageRecord;
import org.servicefarm.controller.model.InstancePolicy;
import org.servicefarm.controller.model.OperationPhase;
import org.servicefarm.controller.model.ProjectRecord;
import org.servicefarm.controller.model.ProjectScope;
import org.servicefarm.controller.model.RequestKey;
import org.servicefarm.controller.model.ServiceDefinitionRecord.ServicePort;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmServiceRecord;
import org.servicefarm.controller.model.VmState;
import org.servicefarm.controller.operations.OperationTracker;
import org.servicefarm.controller.placement.ImageDigests;
import org.servicefarm.controller.placement.PlacementScheduler;
import org.servicefarm.controller.placement.Placer;
import org.servicefarm.controller.placement.RestorePlacement;

/**
 * The farm a step executor's test runs against: a real (embedded) PostgreSQL, migrated once per
 * test class, written through the controller's own repositories and a fenced database whose
 * fence always passes (this controller leads). Each test writes rows of its own (a host, a
 * definition, a VM in the state the step starts from), under names no other test uses, so the
 * tests of a class share one database and each runs in milliseconds. The agents are a
 * {@link ScriptedAgents}; image builds are {@link ImmediateImageBuilds}.
 */
final class StepFarm implements AutoCloseable {
  /** How long a command may take before a step gives up on the host: short, it is a fake. */
  static final Duration TIMEOUT = Duration.ofMillis(50);
  /** The guest port of every test definition's one service. */
  static final int GUEST_PORT = 80;
  /** The size every archive has in the image store (a fixed answer, no store is reached). */
  static final long ARCHIVE_BYTES = 123_456;
  private static final AtomicInteger NAMES = new AtomicInteger();

  final Database db;
  final FencedDatabase leaderDb;
  final HostRepository hosts = new HostRepository();
  final EventRepository events = new EventRepository();
  final VmRepository vms = new VmRepository(events);
  final CatalogRepository catalog = new CatalogRepository();
  final ImageRepository images = new ImageRepository();
  final OperationRepository operationRows = new OperationRepository();
  final ProjectRepository projects = new ProjectRepository();
  final ManifestService manifests;
  final OperationTracker operations;
  final VmStateWatcher watcher = new VmStateWatcher();

  /** A new database, migrated, with manifest-signing keys in {@code keyDir}. */
  static StepFarm open(Path keyDir) throws IOException {
    return new StepFarm(keyDir);
  }

  private StepFarm(Path keyDir) throws IOException {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(),
        "", 4);
    Migrations.migrate(db.dataSource());
    leaderDb = db.fenced(tx -> { }); // this controller leads throughout
    manifests = new ManifestService(db, new ManifestRepository(), ManifestKeyring.open(keyDir));
    operations = new OperationTracker(db, operationRows, failure -> Status.INTERNAL);
  }

  /** The step executors as the controller wires them, driving these agents. */
  ReconcileSteps steps(ScriptedAgents agents, ReconcileSteps.ImageBuilds builds) {
    ImageDigests digests = ImageDigests.of(images);
    RestorePlacement restores = new RestorePlacement(vms, events,
        new Placer(hosts, agents.asRegistryForPlacement(), new PlacementScheduler(1.0)), digests);
    return new ReconcileSteps(leaderDb, vms,
        new CommandFactory(db, catalog, images, events, manifests), new OfferRecorder(catalog, vms),
        agents, watcher, TIMEOUT, TIMEOUT, digests, builds, operations, restores, events,
        archiveRef -> ARCHIVE_BYTES);
  }

  /** As {@link #steps(ScriptedAgents, ReconcileSteps.ImageBuilds)}, with builds that succeed. */
  ReconcileSteps steps(ScriptedAgents agents) {
    return steps(agents, new ImmediateImageBuilds(db, images));
  }

  /** A definition with one service, and the image its VMs boot. */
  record Definition(String name, UUID imageId) {}

  /** A host registered UP with room for a few VMs; its id is new. */
  String host() {
    String id = "host-" + NAMES.incrementAndGet();
    db.inTransaction(tx -> hosts.register(tx, id, "192.0.2.1", "test", 8, 8192, 100_000,
        HostLoad.NONE));
    return id;
  }

  /** A definition of a registered (ready) image; a stateless one's VMs keep nothing on disk. */
  Definition definition(boolean stateless) {
    String name = "svc-" + NAMES.incrementAndGet();
    return db.inTransaction(tx -> {
      ImageRecord image = images.register(tx, name + "-image", digestOf(name), 4096, "qcow2",
          null);
      return define(tx, name, image.id(), List.of(), stateless);
    });
  }

  /** A definition composed from packages, whose image is not built yet (no digest). */
  Definition composedDefinition() {
    String name = "svc-" + NAMES.incrementAndGet();
    return db.inTransaction(tx -> define(tx, name,
        images.findOrRecordComposed(tx, digestOf("inputs of " + name)).id(), List.of("busybox"),
        false));
  }

  private Definition define(Database.Tx tx, String name, UUID imageId, List<String> packages,
      boolean stateless) throws java.sql.SQLException {
    catalog.define(tx, name, imageId, packages, packages.isEmpty() ? "" : "busybox httpd -f", 1,
        128, List.of(new ServicePort(name, GUEST_PORT)),
        new InstancePolicy(0, 0, 0, 0, 0, 1, stateless)).ifPresent(taken -> {
          throw new IllegalStateException("definition " + name + " not written: " + taken);
        });
    return new Definition(name, imageId);
  }

  /**
   * A VM of the definition on the host, brought to {@code state} along the way the farm takes
   * it there, each move with its event (an ARCHIVED VM has no host and an archive reference).
   */
  VmRecord vm(Definition def, String hostId, VmState state) {
    return vm(def, hostId, state, ProjectScope.DEFAULT);
  }

  /** As {@link #vm(Definition, String, VmState)}, for a VM of the project. */
  VmRecord vm(Definition def, String hostId, VmState state, String project) {
    return db.inTransaction(tx -> {
      VmRecord vm = vms.insertProvisioning(tx, def.name(), def.imageId(), hostId, 1, 128,
          project, "placed on host " + hostId);
      for (VmState next : pathTo(state)) {
        VmRepository.Change change = switch (next) {
          case ARCHIVED -> VmRepository.Change.archived("sha256:" + digestOf("archive of "
              + vm.id()));
          case RESTORING -> VmRepository.Change.host(hostId);
          case FAILED -> VmRepository.Change.failed("test");
          case DELETED -> VmRepository.Change.host(null);
          default -> VmRepository.Change.NONE;
        };
        vm = vms.transition(tx, vm.id(), EnumSet.allOf(VmState.class), next,
            "test: " + next, change).orElseThrow();
      }
      return vm;
    });
  }

  /** The states a new VM passes on its way to {@code state}. */
  private static List<VmState> pathTo(VmState state) {
    return switch (state) {
      case PROVISIONING -> List.of();
      case STARTING -> List.of(VmState.STARTING);
      case ACTIVE -> List.of(VmState.STARTING, VmState.ACTIVE);
      case SLEEPING -> List.of(VmState.STARTING, VmState.ACTIVE, VmState.SLEEPING);
      case ARCHIVED -> List.of(VmState.STARTING, VmState.ACTIVE, VmState.ARCHIVING,
          VmState.ARCHIVED);
      case RESTORING -> List.of(VmState.STARTING, VmState.ACTIVE, VmState.ARCHIVING,
          VmState.ARCHIVED, VmState.RESTORING);
      default -> List.of(VmState.STARTING, VmState.ACTIVE, state);
    };
  }

  /** The VM moved on along {@code states} from where it is, as other steps would move it. */
  VmRecord moved(VmRecord vm, VmState... states) {
    return db.inTransaction(tx -> {
      VmRecord now = vm;
      for (VmState next : states) {
        now = vms.transition(tx, vm.id(), EnumSet.allOf(VmState.class), next,
            "test: " + next).orElseThrow();
      }
      return now;
    });
  }

  /** A new project without quotas; returns its name. */
  String project() {
    String name = "project-" + NAMES.incrementAndGet();
    db.inTransaction(tx -> projects.insert(tx, name, ProjectRecord.Quota.NONE));
    return name;
  }

  /** What the project holds now, as its quota counts it. */
  ProjectRecord.Usage usage(String project) {
    return db.inTransaction(tx -> projects.usage(tx, project));
  }

  /** A caller's request waiting for the VM (as the broker records it); returns its id. */
  UUID requestFor(VmRecord vm) {
    UUID id = UUID.randomUUID();
    db.inTransaction(tx -> operationRows.recordRequest(tx, id,
        new RequestKey("caller-" + id, null), vm.definition(), vm.id(), true,
        OperationPhase.QUEUED, 0));
    return id;
  }

  /** The request as its watcher sees it now. */
  OperationRow request(UUID id) {
    return operationRows.find(db, id).orElseThrow();
  }

  /** The VM's row as it is now. */
  VmRecord current(VmRecord vm) {
    return db.inTransaction(tx -> vms.find(tx, vm.id())).orElseThrow();
  }

  /** The causes of the VM's events, oldest first. */
  List<String> causes(VmRecord vm) {
    return events.forVm(db, vm.id()).stream().map(EventRepository.Event::cause).toList();
  }

  /** The cause of the VM's newest event. */
  String lastCause(VmRecord vm) {
    List<String> causes = causes(vm);
    return causes.get(causes.size() - 1);
  }

  /** The services the VM offers, with the host port each is reached on. */
  List<VmServiceRecord> offers(VmRecord vm) {
    return db.inTransaction(tx -> vms.offers(tx, List.of(vm.id())));
  }

  /** A sha256 in hex, as the catalog records digests. */
  static String digestOf(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("no SHA-256 in this JVM", e);
    }
  }

  @Override
  public void close() {
    db.close();
  }
}
