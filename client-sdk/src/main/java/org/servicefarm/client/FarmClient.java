package org.servicefarm.client;

import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.servicefarm.api.v1.DeleteServiceResponse;
import org.servicefarm.api.v1.Event;
import org.servicefarm.api.v1.FarmAdminGrpc;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.ListServicesResponse;
import org.servicefarm.api.v1.OperationUpdate;
import org.servicefarm.api.v1.RegisterImageRequest;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.ServiceBrokerGrpc;
import org.servicefarm.api.v1.ServiceBrokerGrpc.ServiceBrokerBlockingStub;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.AuditLogGrpc;
import org.servicefarm.api.v1.ProjectAdminGrpc;
import org.servicefarm.api.v1.TokenAdminGrpc;
import org.servicefarm.api.v1.Vm;

/**
 * The friendly way to talk to a Service Farm: blocking and async methods over the generated stubs,
 * with the options' deadlines, token and retries applied, and failures thrown as typed
 * {@link FarmException}s.
 *
 * <pre>{@code
 * try (FarmClient farm = FarmClient.connect(FarmClientOptions.defaults())) {
 *   ServiceAccess redis = farm.requestService("redis");
 *   connectTo(redis.endpoint());
 * }
 * }</pre>
 *
 * <p>Thread-safe; share one client per farm.
 */
public final class FarmClient implements AutoCloseable {

  private final FarmClientOptions options;
  /** The channel this client opened and must close; null when the caller owns the channel. */
  private final OwnedChannel ownedChannel;
  private final WatchCalls watches;
  private final BrokerReadCalls brokerReads;
  private final RequestCalls requests;
  private final LeaseCalls leases;
  private final VmHostCalls vmsAndHosts;
  private final CatalogCalls catalog;
  private final TokenCalls tokens;
  private final AuditCalls audit;
  private final ProjectCalls projects;

  /** Calls the farm over a channel the caller built and will close, with default options. */
  public FarmClient(Channel channel) {
    this(channel, FarmClientOptions.defaults());
  }

  /**
   * Calls the farm over a channel the caller built and will close (an in-process channel in tests,
   * for one). The options' deadlines, token and retries apply; their target and TLS settings do
   * not, since the channel already decides those.
   */
  public FarmClient(Channel channel, FarmClientOptions options) {
    this(channel, options, null);
  }

  private FarmClient(Channel channel, FarmClientOptions options, OwnedChannel ownedChannel) {
    this.options = Objects.requireNonNull(options, "options");
    this.ownedChannel = ownedChannel;
    Channel authorized = options.bearerToken().isEmpty() && options.project().isEmpty() ? channel
        : ClientInterceptors.intercept(channel, new BearerTokenInterceptor(
            options.bearerToken().orElse(null), options.project().orElse(null)));
    ServiceBrokerBlockingStub broker = ServiceBrokerGrpc.newBlockingStub(authorized);
    StatusMapper statusMapper = new StatusMapper(channel.authority());
    UnaryCaller caller = new UnaryCaller(options, statusMapper);
    this.brokerReads = new BrokerReadCalls(broker, caller, options.callDeadline());
    this.vmsAndHosts = new VmHostCalls(FarmAdminGrpc.newBlockingStub(authorized),
        FarmAdminGrpc.newFutureStub(authorized), caller, options.callDeadline());
    this.catalog = new CatalogCalls(authorized, caller, statusMapper, options.callDeadline());
    this.watches = new WatchCalls(authorized, options, caller, statusMapper);
    this.requests = new RequestCalls(broker, ServiceBrokerGrpc.newFutureStub(authorized), caller,
        watches, options.requestServiceDeadline());
    this.leases = new LeaseCalls(broker, ServiceBrokerGrpc.newFutureStub(authorized), caller,
        options.callDeadline());
    this.tokens = new TokenCalls(TokenAdminGrpc.newBlockingStub(authorized), caller,
        options.callDeadline());
    this.audit = new AuditCalls(AuditLogGrpc.newBlockingStub(authorized), caller,
        options.callDeadline());
    this.projects = new ProjectCalls(ProjectAdminGrpc.newBlockingStub(authorized), caller,
        options.callDeadline());
  }

  /** Projects and their quotas and usage. */
  public ProjectCalls projects() {
    return projects;
  }

  /**
   * Opens a channel to {@link FarmClientOptions#target()}. Connecting is lazy: an unreachable farm
   * shows up on the first call as {@link FarmUnavailableException}.
   *
   * @throws IllegalArgumentException when the trust certificate cannot be used
   */
  public static FarmClient connect(FarmClientOptions options) {
    OwnedChannel owned = NettyChannels.open(options);
    return new FarmClient(owned.channel(), options, owned);
  }

  /** Creating, listing and revoking bearer tokens (admin tokens only). */
  public TokenCalls tokens() {
    return tokens;
  }

  /** The audit trail: who changed the farm and who was refused (admin tokens only). */
  public AuditCalls audit() {
    return audit;
  }

  /** The options this client was built with. */
  public FarmClientOptions options() {
    return options;
  }

  // ---- ServiceBroker ----

  /**
   * Access to a VM offering the service: a running one, a woken one, or one built for this call.
   * A fresh idempotency key is sent, so a retry after UNAVAILABLE joins the first attempt's work
   * instead of building a second VM.
   *
   * @throws ServiceNotFoundException when the farm neither offers nor can build the service
   * @throws NoCapacityException when no host has room for a new VM
   */
  public ServiceAccess requestService(String service) {
    return requestService(service, UUID.randomUUID().toString());
  }

  /**
   * Like {@link #requestService(String)}, with the caller's idempotency key: requests with the same
   * key answer the same VM, also across processes and restarts of the caller.
   */
  public ServiceAccess requestService(String service, String idempotencyKey) {
    return requests.request(service, idempotencyKey, null);
  }

  /**
   * Like {@link #requestService(String, String)}, with a lease that lasts {@code leaseTtl} (whole
   * seconds, 1 s to 1 h; the farm's default is 60 s) before it must be renewed.
   */
  public ServiceAccess requestService(String service, String idempotencyKey, Duration leaseTtl) {
    return requests.request(service, idempotencyKey, Objects.requireNonNull(leaseTtl, "leaseTtl"));
  }

  /**
   * Access to the service, held until the returned {@link HeldService} is closed: its lease is
   * renewed in the background every third of its TTL, and released on close.
   */
  public HeldService hold(String service) {
    return new HeldService(this, requestService(service));
  }

  /** Like {@link #hold(String)}, with a lease TTL of {@code leaseTtl} (whole seconds). */
  public HeldService hold(String service, Duration leaseTtl) {
    return new HeldService(this, requestService(service, UUID.randomUUID().toString(), leaseTtl));
  }

  /**
   * Extends a live lease by its own TTL from now.
   *
   * @throws NotFoundException when the farm knows no such lease
   * @throws ConflictException (FAILED_PRECONDITION) when the lease was released or has expired;
   *     request the service again
   */
  public Lease renewLease(String leaseId) {
    return leases.renew(leaseId, null);
  }

  /** Extends a live lease to {@code ttl} from now, which becomes its TTL. */
  public Lease renewLease(String leaseId, Duration ttl) {
    return leases.renew(leaseId, Objects.requireNonNull(ttl, "ttl"));
  }

  /**
   * Ends a lease: the caller is done with the VM. Releasing a lease that has ended already
   * succeeds, so it is safe to retry.
   *
   * @throws NotFoundException when the farm knows no such lease
   */
  public void releaseLease(String leaseId) {
    leases.release(leaseId);
  }

  /** {@link #renewLease(String)} without blocking; fails with the same exceptions. */
  public CompletableFuture<Lease> renewLeaseAsync(String leaseId) {
    return leases.renewAsync(leaseId, null);
  }

  /** {@link #renewLease(String, Duration)} without blocking; fails with the same exceptions. */
  public CompletableFuture<Lease> renewLeaseAsync(String leaseId, Duration ttl) {
    return leases.renewAsync(leaseId, Objects.requireNonNull(ttl, "ttl"));
  }

  /**
   * {@link #renewLeaseAsync(String)}, the lease from now standing for {@code connections} users
   * of its VM: the definition's max_leases_per_vm counts a VM's leases by this weight (a
   * gateway's lease by its open connections, so many connections start another VM).
   *
   * @throws IllegalArgumentException when {@code connections} is below 1
   */
  public CompletableFuture<Lease> renewLeaseAsync(String leaseId, int connections) {
    return leases.renewForAsync(leaseId, connections);
  }

  /** {@link #releaseLease(String)} without blocking; fails with the same exceptions. */
  public CompletableFuture<Void> releaseLeaseAsync(String leaseId) {
    return leases.releaseAsync(leaseId);
  }

  /**
   * Asks for the service without waiting for it: the answer names the VM chosen and an operation
   * to follow with {@link #watchOperation}. Fails at once, as {@link #requestService(String)}
   * would, when the service is unknown or no host can take a new VM.
   */
  public RequestServiceResponse requestServiceNoWait(String service, String idempotencyKey) {
    return requests.requestNoWait(service, idempotencyKey);
  }

  /**
   * {@link #requestService(String, String)}, telling {@code progress} each phase the request
   * passes through (placing, fetching the image with a percentage, booting, ...) as it happens.
   * Answers the same access, or throws the same exceptions.
   */
  public ServiceAccess requestServiceWithProgress(String service, String idempotencyKey,
      Consumer<OperationUpdate> progress) {
    return requests.requestWithProgress(service, idempotencyKey, null, progress);
  }

  /** Like {@link #requestServiceWithProgress(String, String, Consumer)}, with a lease TTL. */
  public ServiceAccess requestServiceWithProgress(String service, String idempotencyKey,
      Duration leaseTtl, Consumer<OperationUpdate> progress) {
    return requests.requestWithProgress(service, idempotencyKey,
        Objects.requireNonNull(leaseTtl, "leaseTtl"), progress);
  }

  /**
   * Follows an operation (from {@link #requestServiceNoWait}) until it is done: the current
   * update first, then each change. Blocks; returns the last update, whose result or error says
   * how the request ended.
   *
   * @throws NotFoundException when the farm knows no such operation
   */
  public OperationUpdate watchOperation(String operationId, Consumer<OperationUpdate> onUpdate) {
    return watches.watchOperation(Arguments.requireText(operationId, "operation id"), onUpdate);
  }

  /** {@link #requestService(String)} without blocking; fails with the same exceptions. */
  public CompletableFuture<ServiceAccess> requestServiceAsync(String service) {
    return requestServiceAsync(service, UUID.randomUUID().toString());
  }

  /** {@link #requestService(String, String)} without blocking; fails with the same exceptions. */
  public CompletableFuture<ServiceAccess> requestServiceAsync(
      String service, String idempotencyKey) {
    return requests.requestAsync(service, idempotencyKey);
  }

  /** The services VMs offer now, and the defined ones a request would construct. */
  public ListServicesResponse listServices() {
    return brokerReads.listServices();
  }

  /** @throws NotFoundException when there is no VM with that id */
  public Vm getVm(String vmId) {
    return brokerReads.getVm(Arguments.requireText(vmId, "VM id"));
  }

  // ---- FarmAdmin: catalog and images ----

  /** Adds or replaces a service definition. Not retried: the server decides what a repeat means. */
  public ServiceDefinition defineService(ServiceDefinition definition) {
    return catalog.defineService(definition);
  }

  /**
   * Deletes a service definition: the services it offers (bundled ones too) leave the catalog, and
   * requests for them fail with {@link ServiceNotFoundException}; defining the name again brings it
   * back. Not retried: a repeat after a lost answer would find nothing to delete.
   *
   * @param name the definition's name
   * @param force also delete the definition's VMs (their leases end with them); without it, a
   *     definition that still has VMs is refused
   * @return the name and the ids of the VMs this call set to be deleted (none without force)
   * @throws NotFoundException when no definition of that name is in the catalog
   * @throws ConflictException (FAILED_PRECONDITION) when, without force, VMs of the definition
   *     remain; the message names them
   */
  public DeleteServiceResponse deleteService(String name, boolean force) {
    return catalog.deleteService(Arguments.requireText(name, "service name"), force);
  }

  /** Every service definition in the catalog. */
  public List<ServiceDefinition> listServiceDefinitions() {
    return catalog.listServiceDefinitions();
  }

  /** Records a pre-constructed image in the catalog. Not retried, like {@link #defineService}. */
  public Image registerImage(RegisterImageRequest request) {
    return catalog.registerImage(request);
  }

  /**
   * Streams an image file to the controller, which stores it by digest and registers it under
   * {@code name}. Not retried: a failed upload is started again by the caller.
   *
   * @param format "qcow2" or "raw"
   * @param timeout how long the whole upload may take
   */
  public Image uploadImage(String name, String format, java.nio.file.Path file,
      java.time.Duration timeout) throws java.io.IOException {
    return catalog.uploadImage(name, format, file, timeout);
  }

  /** Every image in the catalog. */
  public List<Image> listImages() {
    return catalog.listImages();
  }

  /**
   * Removes the image store's blobs nothing refers to that are older than the controller's
   * grace ({@code --blob-grace-hours}); with {@code dryRun}, only says which would go.
   */
  public org.servicefarm.api.v1.CollectBlobsResponse collectBlobs(boolean dryRun) {
    return catalog.collectBlobs(dryRun);
  }

  // ---- FarmAdmin: VMs and hosts ----

  /** Every VM, in the server's order. */
  public List<Vm> listVms() {
    return listVms(VmFilter.any());
  }

  /**
   * Every VM the filter matches, fetching page after page until the server says there are no more.
   * Each page is one call with its own deadline and retries.
   */
  public List<Vm> listVms(VmFilter filter) {
    return vmsAndHosts.listVms(filter);
  }

  /**
   * {@link #listVms(VmFilter)} without blocking: completes with every matching VM once the last
   * page has arrived, or fails with the exception of the page that failed.
   */
  public CompletableFuture<List<Vm>> listVmsAsync(VmFilter filter) {
    return vmsAndHosts.listVmsAsync(filter);
  }

  /** One page of events matching the filter, oldest first; page on with the last id seen. */
  public List<Event> listEvents(EventFilter filter) {
    return watches.listEvents(filter);
  }

  /**
   * Streams matching events to {@code onEvent} as the farm commits them (after the filter's
   * afterId first, when set), in id order, until the returned subscription is cancelled.
   */
  public Subscription watchEvents(EventFilter filter, Consumer<Event> onEvent) {
    return watches.watchEvents(filter, onEvent);
  }

  /**
   * Stops placing VMs on the host and moves its VMs to other hosts (archive, then restore, each
   * keeping its id). Returns once the move has started; {@link #watchEvents} shows it go.
   */
  public Host drainHost(String hostId) {
    return vmsAndHosts.hostAction(FarmAdminGrpc.getDrainHostMethod(), hostId,
        (stub, request) -> stub.drainHost(request));
  }

  /** Lets a drained host take new VMs again. */
  public Host uncordonHost(String hostId) {
    return vmsAndHosts.hostAction(FarmAdminGrpc.getUncordonHostMethod(), hostId,
        (stub, request) -> stub.uncordonHost(request));
  }

  /**
   * Sets labels of a host that placement rules match (an admin's label wins over the one its
   * agent reports for the same key), and removes the admin's labels of {@code remove}.
   */
  public Host labelHost(String hostId, java.util.Map<String, String> labels,
      List<String> remove) {
    return vmsAndHosts.labelHost(hostId, labels, remove);
  }

  /**
   * Sets how many times its vCPUs and memory a host may promise to VMs (0 leaves a ratio as it
   * is); with {@code reset}, puts both back to the controller's defaults.
   */
  public Host setHostOvercommit(String hostId, double cpu, double memory, boolean reset) {
    return vmsAndHosts.setHostOvercommit(org.servicefarm.api.v1.SetHostOvercommitRequest
        .newBuilder().setHostId(Arguments.requireText(hostId, "host id")).setCpu(cpu)
        .setMemory(memory).setReset(reset).build());
  }

  /** Every farm host, connected or not, with its capacity, load and allocations. */
  public List<Host> listHosts() {
    return vmsAndHosts.listHosts();
  }

  /**
   * Puts the VM to sleep (managed save): its memory goes to disk and leaves the host. Refused
   * ({@link ConflictException}, naming the count) while the VM holds live leases.
   */
  public Vm suspendVm(String vmId) {
    return suspendVm(vmId, false);
  }

  /** {@link #suspendVm(String)}; with {@code force} a VM in use too, ending its leases. */
  public Vm suspendVm(String vmId, boolean force) {
    return vmsAndHosts.vmAction(FarmAdminGrpc.getSuspendVmMethod(), vmId, force,
        (stub, request) -> stub.suspendVm(request));
  }

  /** Wakes a sleeping VM. */
  public Vm resumeVm(String vmId) {
    return vmsAndHosts.vmAction(FarmAdminGrpc.getResumeVmMethod(), vmId,
        (stub, request) -> stub.resumeVm(request));
  }

  /**
   * Moves the VM's disk to the archive store and releases its host's resources. Refused
   * ({@link ConflictException}, naming the count) while the VM holds live leases.
   */
  public Vm archiveVm(String vmId) {
    return archiveVm(vmId, false);
  }

  /** {@link #archiveVm(String)}; with {@code force} a VM in use too, ending its leases. */
  public Vm archiveVm(String vmId, boolean force) {
    return vmsAndHosts.vmAction(FarmAdminGrpc.getArchiveVmMethod(), vmId, force,
        (stub, request) -> stub.archiveVm(request));
  }

  /** Brings an archived VM back, possibly on another host. */
  public Vm restoreVm(String vmId) {
    return vmsAndHosts.vmAction(FarmAdminGrpc.getRestoreVmMethod(), vmId,
        (stub, request) -> stub.restoreVm(request));
  }

  /**
   * Removes the VM's domain and disks; the VM's record stays, in state DELETED. Refused
   * ({@link ConflictException}, naming the count) while the VM holds live leases.
   */
  public Vm deleteVm(String vmId) {
    return deleteVm(vmId, false);
  }

  /** {@link #deleteVm(String)}; with {@code force} a VM in use too, ending its leases. */
  public Vm deleteVm(String vmId, boolean force) {
    return vmsAndHosts.vmAction(FarmAdminGrpc.getDeleteVmMethod(), vmId, force,
        (stub, request) -> stub.deleteVm(request));
  }

  /**
   * Closes the channel if {@link #connect} opened it, waiting briefly for calls in flight. A
   * channel passed to a constructor is left to its owner.
   */
  @Override
  public void close() {
    if (ownedChannel != null) {
      ownedChannel.close();
    }
  }
}
