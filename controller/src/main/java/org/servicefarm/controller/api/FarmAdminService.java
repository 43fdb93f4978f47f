package org.servicefarm.controller.api;

import io.grpc.stub.StreamObserver;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;
import org.servicefarm.api.v1.DefineServiceRequest;
import org.servicefarm.api.v1.DeleteServiceRequest;
import org.servicefarm.api.v1.DeleteServiceResponse;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.FarmAdminGrpc;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.LabelHostRequest;
import org.servicefarm.api.v1.SetHostOvercommitRequest;
import org.servicefarm.controller.model.PlacementPolicy;
import org.servicefarm.api.v1.HostActionRequest;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.ListEventsRequest;
import org.servicefarm.api.v1.ListEventsResponse;
import org.servicefarm.api.v1.ListHostsRequest;
import org.servicefarm.api.v1.ListHostsResponse;
import org.servicefarm.api.v1.CollectBlobsRequest;
import org.servicefarm.api.v1.CollectBlobsResponse;
import org.servicefarm.api.v1.CollectedBlob;
import org.servicefarm.api.v1.ListImagesRequest;
import org.servicefarm.api.v1.ListImagesResponse;
import org.servicefarm.api.v1.ListServiceDefinitionsRequest;
import org.servicefarm.api.v1.ListServiceDefinitionsResponse;
import org.servicefarm.api.v1.ListVmsRequest;
import org.servicefarm.api.v1.ListVmsResponse;
import org.servicefarm.api.v1.RegisterImageRequest;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.UploadImageChunk;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmActionRequest;
import org.servicefarm.api.v1.WatchEventsRequest;
import org.servicefarm.controller.auth.Caller;
import org.servicefarm.controller.db.ProjectOwnership;
import org.servicefarm.controller.model.ProjectScope;
import org.servicefarm.controller.broker.DefinitionDeletion;
import org.servicefarm.controller.broker.VmActions;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.ReclaimRepository;
import org.servicefarm.controller.db.VmListings;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.images.BlobCollector;
import org.servicefarm.controller.images.BlobStorage;
import org.servicefarm.controller.images.ImageCatalog;
import org.servicefarm.controller.images.ImageIntake;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmState;

/** The admins' API: the catalog, images, and the VM and host tables. */
public final class FarmAdminService extends FarmAdminGrpc.FarmAdminImplBase {
  private static final int DEFAULT_PAGE = 100;
  private static final int MAX_PAGE = 1000;

  private final Database db;
  private final ImageCatalog catalog;
  private final ImageIntake intake;
  private final VmListings listings;
  private final HostRepository hosts;
  private final AgentRegistry agents;
  private final VmActions actions;
  private final Duration actionWait;
  private final EventAdmin events;
  private final DrainAdmin drains;
  private final DefinitionDeletion deletion;
  private final ProjectGate gate;
  private final BlobCollector collector;
  private final ReclaimRepository ranks = new ReclaimRepository();
  private final PlacementAdmin placement;

  /**
   * @param events ListEvents and WatchEvents
   * @param drains DrainHost and UncordonHost
   * @param deletion DeleteService
   */
  public FarmAdminService(Database db, ImageCatalog catalog, ImageIntake intake, VmListings listings,
      HostRepository hosts, AgentRegistry agents, VmActions actions, Duration actionWait,
      EventAdmin events, DrainAdmin drains, DefinitionDeletion deletion,
      BlobCollector collector) {
    this.collector = collector;
    this.events = events;
    this.drains = drains;
    this.deletion = deletion;
    this.db = db;
    this.catalog = catalog;
    this.intake = intake;
    this.listings = listings;
    this.hosts = hosts;
    this.agents = agents;
    this.actions = actions;
    this.actionWait = actionWait;
    this.gate = new ProjectGate(db, new ProjectOwnership());
    this.placement = new PlacementAdmin(db, hosts, agents);
  }

  @Override
  public void defineService(DefineServiceRequest req, StreamObserver<ServiceDefinition> out) {
    ServiceDefinition d = req.getDefinition();
    DefinitionFields f = DefinitionFields.of(d, catalog);
    ReclaimRepository.Rank rank = new ReclaimRepository.Rank(
        (int) Validation.range("definition.priority", d.getPriority(), -1000, 1000),
        d.getPreemptible());
    PlacementPolicy rules = PlacementAdmin.policyOf(d);
    ProjectGate.Owner owner = gate.ownerOfNewDefinition(f.name(), d.getProject(), d.getShared());
    ImageCatalog.DefinitionExtras placementRules = placement.rulesOf(rules);
    // The rank and the placement rules commit with the definition: none is seen without them.
    ServiceDefinitionRecord saved = catalog.define(new ImageCatalog.DefinitionInput(
        f.name(), f.packages(), f.image(), f.command(), f.vcpus(), f.memoryMb(), f.services(),
        PolicyValidation.of(d),
        owner.project(), owner.shared()), (tx, definition) -> {
          placementRules.record(tx, definition);
          ranks.setRank(tx, definition, rank);
        });
    out.onNext(withRank(PlacementAdmin.withRules(ProtoMapping.definition(saved, f.image()), rules),
        rank));
    out.onCompleted();
  }

  @Override
  public void listServiceDefinitions(ListServiceDefinitionsRequest req,
      StreamObserver<ListServiceDefinitionsResponse> out) {
    Map<UUID, String> imageNames = catalog.imageNamesForDefinitions();
    ListServiceDefinitionsResponse.Builder resp = ListServiceDefinitionsResponse.newBuilder();
    ProjectScope scope = Caller.scope();
    Map<String, ReclaimRepository.Rank> rankOf = ranks.ranks(db);
    Map<String, PlacementPolicy> rules = placement.allRules();
    for (ServiceDefinitionRecord d : catalog.definitions()) {
      if (scope.seesDefinition(d.project(), d.shared())) {
        resp.addDefinitions(withRank(PlacementAdmin.withRules(
            ProtoMapping.definition(d, imageNames.get(d.imageId())), rules.get(d.name())),
            rankOf.getOrDefault(d.name(), ReclaimRepository.Rank.DEFAULT)));
      }
    }
    out.onNext(resp.build());
    out.onCompleted();
  }

  /** The definition with its priority and preemptibility (kept beside the catalog's row). */
  private static ServiceDefinition withRank(ServiceDefinition d, ReclaimRepository.Rank rank) {
    return d.toBuilder().setPriority(rank.priority()).setPreemptible(rank.preemptible()).build();
  }

  @Override
  public void deleteService(DeleteServiceRequest req, StreamObserver<DeleteServiceResponse> out) {
    String name = Validation.serviceName("name", req.getName());
    gate.requireOwnDefinition(name);
    DefinitionDeletion.Deleted deleted = deletion.delete(name, req.getForce());
    DeleteServiceResponse.Builder resp = DeleteServiceResponse.newBuilder().setName(name);
    deleted.deletedVmIds().forEach(id -> resp.addDeletedVmIds(id.toString()));
    out.onNext(resp.build());
    out.onCompleted();
  }

  @Override
  public void registerImage(RegisterImageRequest req, StreamObserver<Image> out) {
    String name = Validation.imageName("name", req.getName());
    String format = imageFormat(req.getFormat());
    String sha = req.getSha256().isEmpty() ? null : Validation.sha256("sha256", req.getSha256());
    // Optional fields are proto3 zeros when not given.
    long size = req.getSizeBytes() == 0 ? -1
        : Validation.range("size_bytes", req.getSizeBytes(), 1, intake.maxImageBytes());
    String path = req.getSourcePath();
    if (path.isEmpty()) {
      throw new FarmException.InvalidInput("source_path is required (the image file on the"
          + " controller's host; UploadImage sends a file from elsewhere)");
    }
    if (path.length() > 4096) {
      throw new FarmException.InvalidInput("source_path: longer than 4096 characters");
    }
    Path source;
    try {
      source = Path.of(path);
    } catch (InvalidPathException e) {
      throw new FarmException.InvalidInput("source_path: '" + Validation.shown(path)
          + "' is not a path (" + e.getReason() + ")");
    }
    out.onNext(ProtoMapping.image(intake.registerFile(name, format, source, sha, size,
        Caller.scope().project())));
    out.onCompleted();
  }

  @Override
  public StreamObserver<UploadImageChunk> uploadImage(StreamObserver<Image> out) {
    return new ImageUploadReceiver(intake, out);
  }

  /**
   * The image format named in a request: qcow2 (the default) or raw disks, or oci (an OCI image
   * layout or docker save archive, as a tar).
   */
  static String imageFormat(String format) {
    if (format.isEmpty()) {
      return "qcow2";
    }
    if (!format.equals("qcow2") && !format.equals("raw") && !format.equals("oci")) {
      throw new FarmException.InvalidInput("format: '" + Validation.shown(format)
          + "' is not an image format (qcow2, raw or oci)");
    }
    return format;
  }

  @Override
  public void listImages(ListImagesRequest req, StreamObserver<ListImagesResponse> out) {
    ListImagesResponse.Builder resp = ListImagesResponse.newBuilder();
    ProjectScope scope = Caller.scope();
    catalog.list().stream().filter(i -> i.project() == null || scope.sees(i.project()))
        .forEach(i -> resp.addImages(ProtoMapping.image(i)));
    out.onNext(resp.build());
    out.onCompleted();
  }

  @Override
  public void collectBlobs(CollectBlobsRequest req, StreamObserver<CollectBlobsResponse> out) {
    if (collector == null) {
      throw new FarmException.Unavailable("blob collection is not available on this controller");
    }
    BlobCollector.Report report = collector.collect(req.getDryRun());
    CollectBlobsResponse.Builder resp = CollectBlobsResponse.newBuilder()
        .setDryRun(report.dryRun()).setFreedBytes(report.freedBytes())
        .setKeptBlobs(report.keptBlobs()).setKeptBytes(report.keptBytes())
        .setYoungBlobs(report.youngBlobs());
    for (BlobStorage.StoredBlob blob : report.collected()) {
      resp.addBlobs(CollectedBlob.newBuilder().setSha256(blob.sha256())
          .setSizeBytes(blob.sizeBytes()).setStoredAt(com.google.protobuf.Timestamp.newBuilder()
              .setSeconds(blob.storedAt().getEpochSecond())
              .setNanos(blob.storedAt().getNano())));
    }
    out.onNext(resp.build());
    out.onCompleted();
  }

  @Override
  public void listVms(ListVmsRequest req, StreamObserver<ListVmsResponse> out) {
    VmState state = null;
    if (req.getState() != org.servicefarm.api.v1.VmState.VM_STATE_UNSPECIFIED) {
      if (req.getState() == org.servicefarm.api.v1.VmState.UNRECOGNIZED) {
        throw new FarmException.InvalidInput("state: unknown value " + req.getStateValue());
      }
      state = VmState.valueOf(req.getState().name().substring("VM_STATE_".length()));
    }
    String host = req.getHostId().isEmpty() ? null : Validation.hostId(req.getHostId());
    String service = req.getService().isEmpty() ? null
        : Validation.serviceName("service", req.getService());
    int size = req.getPageSize() == 0 ? DEFAULT_PAGE
        : (int) Validation.range("page_size", req.getPageSize(), 1, MAX_PAGE);
    UUID after = req.getPageToken().isEmpty() ? null : pageToken(req.getPageToken());
    VmListings.Page page = listings.list(db, state, host, service, req.getExcludeDeleted(),
        size, after, Caller.scope().project());
    ListVmsResponse.Builder resp = ListVmsResponse.newBuilder();
    page.vms().forEach(v -> resp.addVms(ProtoMapping.vm(v)));
    if (page.nextPageToken() != null) {
      resp.setNextPageToken(page.nextPageToken());
    }
    out.onNext(resp.build());
    out.onCompleted();
  }

  @Override
  public void listHosts(ListHostsRequest req, StreamObserver<ListHostsResponse> out) {
    ListHostsResponse.Builder resp = ListHostsResponse.newBuilder();
    // Load comes from the live stream when the agent is connected: the table's copy may lag.
    hosts.list(db).forEach(h -> resp.addHosts(ProtoMapping.host(h,
        agents.session(h.id()).map(org.servicefarm.controller.hosts.AgentSession::load).orElse(null))));
    out.onNext(resp.build());
    out.onCompleted();
  }

  @Override
  public void suspendVm(VmActionRequest req, StreamObserver<Vm> out) {
    act(req, out, (id, wait) -> actions.suspend(id, VmActions.Leased.refuseUnless(req.getForce()),
        wait));
  }

  @Override
  public void resumeVm(VmActionRequest req, StreamObserver<Vm> out) {
    act(req, out, actions::resume);
  }

  @Override
  public void archiveVm(VmActionRequest req, StreamObserver<Vm> out) {
    act(req, out, (id, wait) -> actions.archive(id, VmActions.Leased.refuseUnless(req.getForce()),
        wait));
  }

  @Override
  public void restoreVm(VmActionRequest req, StreamObserver<Vm> out) {
    act(req, out, actions::restore);
  }

  @Override
  public void deleteVm(VmActionRequest req, StreamObserver<Vm> out) {
    act(req, out, (id, wait) -> actions.delete(id, VmActions.Leased.refuseUnless(req.getForce()),
        wait));
  }

  @Override
  public void listEvents(ListEventsRequest req, StreamObserver<ListEventsResponse> out) {
    events.listEvents(req, out);
  }

  @Override
  public void watchEvents(WatchEventsRequest req, StreamObserver<Event> out) {
    events.watchEvents(req, out);
  }

  @Override
  public void labelHost(LabelHostRequest req, StreamObserver<Host> out) {
    placement.labelHost(req, out);
  }

  @Override
  public void setHostOvercommit(SetHostOvercommitRequest req, StreamObserver<Host> out) {
    placement.setHostOvercommit(req, out);
  }

  @Override
  public void drainHost(HostActionRequest req, StreamObserver<Host> out) {
    drains.drainHost(req, out);
  }

  @Override
  public void uncordonHost(HostActionRequest req, StreamObserver<Host> out) {
    drains.uncordonHost(req, out);
  }

  private void act(VmActionRequest req, StreamObserver<Vm> out,
      BiFunction<UUID, Duration, CompletableFuture<VmRecord>> action) {
    UUID id = Validation.vmId(req.getVmId());
    gate.requireVm(id);
    DeferredAnswer.answer(out,
        action.apply(id, CallDeadlines.waitFor(actionWait)),
        vm -> db.inTransaction(tx -> ProtoMapping.vm(listings.views(tx, List.of(vm)).get(0))));
  }

  private static UUID pageToken(String token) {
    try {
      return UUID.fromString(token);
    } catch (IllegalArgumentException e) {
      throw new FarmException.InvalidInput("page_token: '" + Validation.shown(token)
          + "' is not a token this server gave out");
    }
  }
}
