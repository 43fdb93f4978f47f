package org.servicefarm.agent;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.servicefarm.agent.hypervisor.AcceleratorProbe;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.libvirt.HostPortAllocator;
import org.servicefarm.agent.hypervisor.libvirt.HostSettings;
import org.servicefarm.agent.hypervisor.libvirt.LibvirtConnection;
import org.servicefarm.agent.hypervisor.libvirt.LibvirtHypervisor;
import org.servicefarm.agent.hypervisor.libvirt.QemuDomainXmlBuilder;
import org.servicefarm.agent.hypervisor.storage.DiskStore;
import org.servicefarm.agent.hypervisor.storage.PathOnlyDiskStore;
import org.servicefarm.agent.hypervisor.storage.QemuDiskStore;
import org.servicefarm.agent.hypervisor.storage.QemuImg;
import org.servicefarm.agent.hypervisor.storage.VmArchives;
import org.servicefarm.agent.images.BlobTransfers;
import org.servicefarm.agent.images.ImageCache;
import org.servicefarm.agent.images.QemuReadable;
import org.servicefarm.agent.images.ImageStoreClient;
import org.servicefarm.agent.images.ManifestVerifier;
import org.servicefarm.agent.link.ChannelOpener;
import org.servicefarm.agent.link.ControllerChannels;
import org.servicefarm.agent.link.ControllerLink;
import org.servicefarm.agent.link.FailoverChannel;
import org.servicefarm.agent.link.LinkSettings;
import org.servicefarm.agent.load.HostCapacityProbe;
import org.servicefarm.agent.load.HostLoadProbe;
import org.servicefarm.agent.metrics.AgentHttpEndpoint;
import org.servicefarm.agent.metrics.AgentMetrics;
import org.servicefarm.api.v1.HostCapacity;
import org.servicefarm.config.ConfigOptions;
import org.servicefarm.config.DaemonConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The agent process of one farm host: wires libvirt to the controller link and runs until
 * SIGTERM.
 */
@Command(name = "servicefarm-agent", mixinStandardHelpOptions = true,
    versionProvider = AgentMain.Version.class,
    description = "Runs a farm host's VMs for the Service Farm controller.",
    footer = {"", "Every option may also be set as SERVICEFARM_<OPTION> in the environment or as",
        "option = value in the config file (flag > environment > file > default).",
        "  servicefarm-agent --config /etc/servicefarm/agent.conf --print-config"})
public final class AgentMain implements Callable<Integer> {

  static {
    // Both must be set before the first logger exists, hence before `log` below.
    if (System.getProperty("java.util.logging.manager") == null) {
      System.setProperty("java.util.logging.manager", AgentLogManager.class.getName());
    }
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty("java.util.logging.SimpleFormatter.format",
          "%1$tF %1$tT.%1$tL %4$s %3$s: %5$s%6$s%n"); // one line a record
    }
  }

  private static final Logger log = LoggerFactory.getLogger(AgentMain.class);
  private static final Pattern HOST_ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
  private static final Pattern PORT_RANGE = Pattern.compile("(\\d{1,5})-(\\d{1,5})");
  private static final Pattern HOST_PORT = Pattern.compile("(.+):(\\d{1,5})");
  private static final long MIB = 1024 * 1024;
  static final Path DEFAULT_CONFIG = Path.of("/etc/servicefarm/agent.conf");

  @Spec
  private CommandSpec spec;

  @Mixin
  private ConfigOptions configOptions;

  @Option(names = "--controller", defaultValue = "127.0.0.1:50051", paramLabel = "HOST:PORT[,...]",
      description = "Controller address; a comma list is tried in turn on each reconnect.")
  private String controllers;

  @Option(names = "--host-id", required = true,
      description = "This host's id: [a-z0-9][a-z0-9-]{0,62}.")
  private String hostId;

  @Option(names = "--label", paramLabel = "KEY=VALUE[,...]",
      description = "Labels of this host that placement rules match, a comma list"
          + " (zone=a,rack=r1). An admin's label of the same key wins.")
  private String labels;

  @Option(names = "--libvirt-uri", defaultValue = "qemu:///system",
      description = "libvirt connection URI; test:///default simulates VMs.")
  private String libvirtUri;

  @Option(names = "--address", defaultValue = "127.0.0.1",
      description = "Address clients use to reach this host's forwarded ports.")
  private String address;

  @Option(names = "--state-dir", defaultValue = "/var/lib/servicefarm/agent",
      description = "Holds VM disks (disks/), console logs (console/), the image cache (cache/)"
          + " and archive transfers (archives/).")
  private Path stateDir;

  /** Archives now live in the controller's image store; kept so old launch scripts still run. */

  @Option(names = "--accel", defaultValue = "auto", paramLabel = "auto|kvm|tcg",
      description = "QEMU accelerator; auto uses KVM only when /dev/kvm opens and a probe boot"
          + " under KVM ends in time.")
  private String accel;

  @Option(names = "--kvm-probe-kernel", paramLabel = "FILE",
      description = "Kernel for the KVM probe boot; default the newest /boot/vmlinuz-*.")
  private Path kvmProbeKernel;

  @Option(names = "--forward-bind", paramLabel = "IPV4",
      description = "Address forwarded VM ports listen on; default the --address value.")
  private String forwardBind;

  @Option(names = "--cache-max-mb", defaultValue = "20480",
      description = "Bound of the image cache in MiB; blobs in use by this host's VMs stay.")
  private long cacheMaxMb;

  @Option(names = "--capacity-vcpus", description = "vCPUs to offer; default what libvirt reports.")
  private Integer capacityVcpus;

  @Option(names = "--capacity-memory-mb",
      description = "Memory to offer in MiB; default what libvirt reports.")
  private Long capacityMemoryMb;

  @Option(names = "--port-range", defaultValue = "20000-29999", paramLabel = "FIRST-LAST",
      description = "Host ports to choose from for VM port forwards.")
  private String portRange;

  @Option(names = "--tls-ca", paramLabel = "FILE",
      description = "PEM CA the controller's certificate must chain to; with --tls-cert and"
          + " --tls-key the agent speaks mutual TLS.")
  private Path tlsCa;

  @Option(names = "--tls-cert", paramLabel = "FILE",
      description = "PEM certificate naming this host (farmctl pki agent --host-id HOST).")
  private Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "PEM PKCS#8 key of --tls-cert.")
  private Path tlsKey;

  @Option(names = "--token-file", paramLabel = "FILE",
      description = "File holding an admin bearer token, sent on image store calls; needed when"
          + " the agent has no client certificate (--tls-cert), since the controller's image store"
          + " serves only certified agents and admin tokens.")
  private Path tokenFile;

  @Option(names = "--manifest-key", paramLabel = "FILE", split = ",",
      description = "Trust only this manifest-signing public key (a controller's"
          + " <data-dir>/manifest-keys/<key-id>.pub), instead of the keys the"
          + " controller publishes when the agent registers (several: repeat the option, or"
          + " separate them with commas). Images and archives signed by any other key are"
          + " refused.")
  private java.util.List<Path> manifestKeys = new java.util.ArrayList<>();

  @Option(names = "--insecure",
      description = "Allow plaintext to a controller that is not on a loopback address, and"
          + " --metrics-listen on one that is not loopback.")
  private boolean insecure;

  @Option(names = "--metrics-listen", defaultValue = "127.0.0.1:50053", paramLabel = "HOST:PORT",
      description = "Where to serve /metrics (Prometheus) and /healthz over plain HTTP; port 0"
          + " picks a free one, 'off' serves none; a non-loopback address needs --insecure"
          + " (default: ${DEFAULT-VALUE}).")
  private String metricsListen;

  private ManifestVerifier manifestVerifier() throws java.io.IOException {
    if (manifestKeys.isEmpty()) {
      return new ManifestVerifier();
    }
    java.util.List<byte[]> keys = new java.util.ArrayList<>();
    for (Path file : manifestKeys) {
      keys.add(java.nio.file.Files.readAllBytes(file));
    }
    ManifestVerifier pinned = ManifestVerifier.pinnedTo(keys);
    log.info("manifests must be signed by the pinned key(s) {}", pinned.trustedKeyIds());
    return pinned;
  }

  private int firstPort; // parsed from portRange by validate()
  private int lastPort;
  private AcceleratorProbe.Mode accelMode; // parsed from accel by validate()
  private Optional<InetSocketAddress> metricsAddress; // parsed from metricsListen by validate()

  public static void main(String[] args) {
    System.exit(DaemonConfig.execute(new CommandLine(new AgentMain()), args, System.getenv(),
        DEFAULT_CONFIG));
  }

  @Override
  public Integer call() throws Exception {
    validate();
    List<String> controllerList = Arrays.stream(controllers.split(","))
        .map(String::trim).filter(s -> !s.isEmpty()).toList();
    ChannelOpener channels = channels(controllerList); // a refusal leaves nothing behind
    // Only the agent, and QEMU through its group, may read what the agent keeps.
    QemuReadable.directory(stateDir);

    HypervisorKind kind = HypervisorKind.isTestDriverUri(libvirtUri)
        ? HypervisorKind.TEST
        : new AcceleratorProbe().choose(accelMode, Optional.ofNullable(kvmProbeKernel)).kind();
    FailoverChannel storeChannel =
        new FailoverChannel(controllerList, channels);
    BlobTransfers transfers =
        new BlobTransfers(new ImageStoreClient(storeChannel, storeToken()));
    Optional<ImageCache> cache = kind.runsQemu()
        ? Optional.of(new ImageCache(stateDir.resolve("cache"), cacheMaxMb * MIB, transfers))
        : Optional.empty(); // the test driver boots nothing, so it keeps no images
    DiskStore disks = cache.isPresent()
        ? new QemuDiskStore(stateDir, cache.get(), new QemuImg())
        : new PathOnlyDiskStore(stateDir);
    LibvirtConnection libvirt = new LibvirtConnection(libvirtUri);
    LibvirtHypervisor hypervisor = new LibvirtHypervisor(libvirt,
        new HostSettings(hostId, kind, forwardBind()), disks,
        new VmArchives(stateDir, transfers), new HostPortAllocator(firstPort, lastPort));
    HostLoadProbe load = HostLoadProbe.forThisHost(stateDir);
    HostCapacity capacity = HostCapacityProbe.capacity(hypervisor, load,
        Optional.ofNullable(capacityVcpus), Optional.ofNullable(capacityMemoryMb));
    log.info("agent {} for host {}: {} via {}, {} vCPUs, {} MiB, controllers {}",
        AgentVersion.current(), hostId, kind.wireName(), libvirtUri, capacity.getVcpus(),
        capacity.getMemoryMb(), controllerList);

    AgentMetrics metrics = new AgentMetrics();
    ControllerLink link = new ControllerLink(
        new LinkSettings(hostId, address, controllerList, capacity, AgentVersion.current(),
            HostLabels.parse(labels)),
        channels, hypervisor, load, metrics, manifestVerifier());
    metrics.watch(hypervisor, link::isConnected, libvirt::problem, cache);
    AgentHttpEndpoint endpoint = metricsAddress.isEmpty() ? null : AgentHttpEndpoint.start(
        metricsAddress.get(), metrics, link::isConnected, libvirt::problem);
    if (endpoint != null) {
      log.info("metrics and health on http://{}:{}/metrics and /healthz",
          endpoint.address().getHostString(), endpoint.address().getPort());
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        log.info("stopping: letting running commands finish, then closing the stream");
        if (endpoint != null) {
          endpoint.close();
        }
        link.close();
        storeChannel.close();
        hypervisor.close();
        log.info("stopped");
      } finally {
        AgentLogManager.agentStopped();
        stopped.countDown();
      }
    }, "agent-shutdown"));
    AgentLogManager.holdResetsUntilAgentStopped();
    link.start();
    stopped.await();
    return 0;
  }

  private void validate() {
    if (!HOST_ID.matcher(hostId).matches()) {
      throw new ParameterException(spec.commandLine(),
          "--host-id '" + hostId + "' must match [a-z0-9][a-z0-9-]{0,62}");
    }
    try {
      HostLabels.parse(labels);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "--label: " + e.getMessage());
    }
    if (Arrays.stream(controllers.split(",")).allMatch(s -> s.isBlank())) {
      throw new ParameterException(spec.commandLine(), "--controller needs at least one address");
    }
    Matcher range = PORT_RANGE.matcher(portRange);
    firstPort = range.matches() ? Integer.parseInt(range.group(1)) : 0;
    lastPort = range.matches() ? Integer.parseInt(range.group(2)) : 0;
    if (firstPort < 1 || lastPort > 65535 || firstPort > lastPort) {
      throw new ParameterException(spec.commandLine(),
          "--port-range '" + portRange + "' must be FIRST-LAST within 1-65535");
    }
    accelMode = AcceleratorProbe.Mode.parse(accel).orElseThrow(() -> new ParameterException(
        spec.commandLine(), "--accel '" + accel + "' must be auto, kvm or tcg"));
    if (forwardBind != null && !QemuDomainXmlBuilder.isIpv4Literal(forwardBind)) {
      throw new ParameterException(spec.commandLine(),
          "--forward-bind '" + forwardBind + "' must be an IPv4 address such as 0.0.0.0");
    }
    if (!HypervisorKind.isTestDriverUri(libvirtUri)
        && !QemuDomainXmlBuilder.isIpv4Literal(forwardBind())) {
      throw new ParameterException(spec.commandLine(), "--address '" + address + "' is not an"
          + " IPv4 address, which QEMU's port forwards need to listen on: pass --forward-bind");
    }
    if (cacheMaxMb < 1 || cacheMaxMb > Long.MAX_VALUE / MIB) {
      throw new ParameterException(spec.commandLine(),
          "--cache-max-mb must be at least 1 and fit in bytes, got " + cacheMaxMb);
    }
    if (capacityVcpus != null && capacityVcpus < 1) {
      throw new ParameterException(spec.commandLine(), "--capacity-vcpus must be at least 1");
    }
    if (capacityMemoryMb != null && capacityMemoryMb < 1) {
      throw new ParameterException(spec.commandLine(), "--capacity-memory-mb must be at least 1");
    }
    metricsAddress = metricsAddress();
  }

  /** The --metrics-listen address, empty for 'off'; refused with the value when it is bad. */
  private Optional<InetSocketAddress> metricsAddress() {
    if ("off".equals(metricsListen)) {
      return Optional.empty();
    }
    Matcher hostPort = HOST_PORT.matcher(metricsListen);
    if (!hostPort.matches() || Integer.parseInt(hostPort.group(2)) > 65535) {
      throw new ParameterException(spec.commandLine(), "--metrics-listen '" + metricsListen
          + "' must be HOST:PORT (port 0-65535, 0 for any free one) or off");
    }
    InetAddress host;
    try {
      host = InetAddress.getByName(hostPort.group(1));
    } catch (UnknownHostException e) {
      throw new ParameterException(spec.commandLine(), "--metrics-listen '" + metricsListen
          + "': unknown host " + hostPort.group(1), e);
    }
    if (!host.isLoopbackAddress() && !insecure) {
      throw new ParameterException(spec.commandLine(), "--metrics-listen " + metricsListen
          + " is not a loopback address; the endpoint is plaintext and unauthenticated, which"
          + " there needs --insecure");
    }
    return Optional.of(new InetSocketAddress(host, Integer.parseInt(hostPort.group(2))));
  }

  /** Mutual TLS when the three TLS files are given; plaintext only to loopback or --insecure. */
  private ChannelOpener channels(List<String> controllerList) {
    boolean anyTls = tlsCa != null || tlsCert != null || tlsKey != null;
    if (anyTls && (tlsCa == null || tlsCert == null || tlsKey == null)) {
      throw new ParameterException(spec.commandLine(), "mutual TLS needs all of --tls-ca,"
          + " --tls-cert and --tls-key; got --tls-ca " + tlsCa + ", --tls-cert " + tlsCert
          + ", --tls-key " + tlsKey);
    }
    if (anyTls) {
      try {
        return ControllerChannels.mutualTls(tlsCa, tlsCert, tlsKey);
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage(), e);
      }
    }
    if (!insecure && !ControllerChannels.allLoopback(controllerList)) {
      throw new ParameterException(spec.commandLine(), "--controller " + controllers
          + " is not a loopback address; plaintext there needs --insecure (or --tls-ca,"
          + " --tls-cert and --tls-key)");
    }
    return ControllerChannels.plaintext();
  }

  /** The bearer token of --token-file, read once at start. */
  private Optional<String> storeToken() {
    if (tokenFile == null) {
      return Optional.empty();
    }
    try {
      String token = Files.readString(tokenFile).strip();
      if (token.isEmpty()) {
        throw new ParameterException(spec.commandLine(), "--token-file " + tokenFile
            + " is empty; it must hold a bearer token (farmctl token create --role admin)");
      }
      return Optional.of(token);
    } catch (java.io.IOException e) {
      throw new ParameterException(spec.commandLine(), "cannot read --token-file " + tokenFile
          + ": " + e.getMessage(), e);
    }
  }

  private String forwardBind() {
    return forwardBind != null ? forwardBind : address;
  }

  /** Reports the jar's version for --version. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"servicefarm-agent " + AgentVersion.current()};
    }
  }
}
