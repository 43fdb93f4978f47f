package org.servicefarm.e2e.process;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor.MethodType;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.function.Supplier;
import org.servicefarm.api.v1.*;
import org.servicefarm.diskimage.Qcow2Bytes;

/**
 * Hostile calls for {@link HostileRequestFuzzTest}, every one drawn from one seeded Random: bad
 * strings and numbers in real messages, mutated and random bytes, messages near and over the
 * 4 MiB limit, wrong or forged credentials, agent streams that lie about who they are or
 * flood their inventory, paths to the controller's own files, and images whose headers name
 * files on the hosts. A call's summary says "[auth live admin]" when it carried an admin token,
 * so the test can hold the image store and RegisterImage to who may use them.
 * Never the farm's own VM, its host h1 (except to forge it) or service fuzz-web (except to
 * request it), so the test can tell damage from the fuzz's own admin actions.
 */
final class HostileInputs {
  /** One call: method, its shape, credentials, the messages to send, and what they were. */
  record Call(String method, MethodType type, Metadata headers, List<byte[]> messages,
      String summary) {}

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> PROJECT =
      Metadata.Key.of("servicefarm-project", Metadata.ASCII_STRING_MARSHALLER);
  /** Marks a call made with a token bound to the fuzz's own project. */
  static final String PROJECT_BOUND = "[auth project-bound]";
  private static final int LIMIT = 4 * 1024 * 1024;

  /** Whether the call sends a message past the controller's limit (4 MiB). */
  static boolean oversized(Call call) {
    return call.messages().stream().anyMatch(m -> m.length > LIMIT);
  }

  private final Random r;
  private final List<String> tokens;
  private final String revoked;
  private final List<String> projectTokens;
  private final List<String> foreign;
  private final List<Supplier<Call>> kinds = new ArrayList<>();
  private String summary;

  HostileInputs(Random random, List<String> tokens, String revoked) {
    this(random, tokens, revoked, List.of(), List.of());
  }

  /**
   * @param projectTokens tokens bound to one project, whose calls must never read another's
   * @param foreign another project's VM, lease and operation ids, service and project names,
   *     sent now and then wherever an id or name goes
   */
  HostileInputs(Random random, List<String> tokens, String revoked, List<String> projectTokens,
      List<String> foreign) {
    this.r = random;
    this.tokens = tokens;
    this.revoked = revoked;
    this.projectTokens = projectTokens;
    this.foreign = foreign;
    String b = "servicefarm.v1.ServiceBroker/";
    unary(b + "RequestService", () -> RequestServiceRequest.newBuilder()
        .setService(r.nextInt(8) == 0 ? "fuzz-web" : requested()).setIdempotencyKey(text())
        .setNoWait(r.nextBoolean()).setLeaseTtlSeconds(number()).build());
    unary(b + "ListServices", ListServicesRequest::getDefaultInstance);
    unary(b + "GetVm", () -> GetVmRequest.newBuilder().setVmId(id()).build());
    unary(b + "RenewLease", () -> RenewLeaseRequest.newBuilder().setLeaseId(id())
        .setTtlSeconds(number()).build());
    unary(b + "ReleaseLease", () -> ReleaseLeaseRequest.newBuilder().setLeaseId(id()).build());
    add(b + "WatchOperation", MethodType.SERVER_STREAMING,
        () -> List.of(WatchOperationRequest.newBuilder().setOperationId(id()).build()));
    String a = "servicefarm.v1.FarmAdmin/";
    unary(a + "DefineService", () -> DefineServiceRequest.newBuilder()
        .setDefinition(definition()).build());
    unary(a + "ListServiceDefinitions", ListServiceDefinitionsRequest::getDefaultInstance);
    unary(a + "DeleteService", () -> DeleteServiceRequest.newBuilder().setName(name())
        .setForce(r.nextBoolean()).build());
    unary(a + "RegisterImage", () -> RegisterImageRequest.newBuilder().setName(name())
        .setSha256(text()).setSizeBytes(bigNumber()).setFormat(text()).setSourcePath(path())
        .build());
    add(a + "UploadImage", MethodType.CLIENT_STREAMING, this::hostileImage);
    add(a + "UploadImage", MethodType.CLIENT_STREAMING, () -> List.of(
        UploadImageChunk.newBuilder().setHeader(UploadImageHeader.newBuilder().setName(name())
            .setFormat(text()).setSizeBytes(bigNumber()).setSha256(text())).build(),
        UploadImageChunk.newBuilder().setData(randomBytes(r.nextInt(4096))).build()));
    unary(a + "ListImages", ListImagesRequest::getDefaultInstance);
    unary(a + "ListVms", () -> ListVmsRequest.newBuilder().setStateValue(number())
        .setHostId(name()).setService(name()).setPageSize(number()).setPageToken(text()).build());
    unary(a + "ListHosts", ListHostsRequest::getDefaultInstance);
    for (String action : List.of("SuspendVm", "ResumeVm", "ArchiveVm", "RestoreVm", "DeleteVm")) {
      unary(a + action, () -> VmActionRequest.newBuilder().setVmId(id()).build());
    }
    unary(a + "ListEvents", () -> ListEventsRequest.newBuilder().setVmId(id()).setService(name())
        .setHostId(name()).setAfterId(bigNumber()).setLimit(number()).build());
    add(a + "WatchEvents", MethodType.SERVER_STREAMING, () -> List.of(WatchEventsRequest
        .newBuilder().setVmId(id()).setService(name()).setAfterId(bigNumber()).build()));
    unary(a + "DrainHost", () -> HostActionRequest.newBuilder().setHostId(name()).build());
    unary(a + "UncordonHost", () -> HostActionRequest.newBuilder().setHostId(name()).build());
    unary(a + "LabelHost", () -> org.servicefarm.api.v1.LabelHostRequest.newBuilder()
        .setHostId(name()).putLabels(text(), text()).addRemove(text()).build());
    unary(a + "SetHostOvercommit", () -> org.servicefarm.api.v1.SetHostOvercommitRequest
        .newBuilder().setHostId(name()).setCpu(ratio()).setMemory(ratio())
        .setReset(r.nextInt(4) == 0).build());
    String t = "servicefarm.v1.TokenAdmin/";
    unary(t + "CreateToken", () -> CreateTokenRequest.newBuilder().setName(text())
        .setRole(r.nextBoolean() ? "agent" : text()).build());
    unary(t + "ListTokens", ListTokensRequest::getDefaultInstance);
    unary(t + "RevokeToken", () -> RevokeTokenRequest.newBuilder().setIdOrName(text()).build());
    unary(t + "CreateToken", () -> CreateTokenRequest.newBuilder().setName("p-" + r.nextInt(100))
        .setRole(r.nextBoolean() ? "client" : "admin").setProject(projectName()).build());
    String p = "servicefarm.v1.ProjectAdmin/";
    unary(p + "CreateProject", () -> CreateProjectRequest.newBuilder().setName(projectName())
        .setQuota(ProjectQuota.newBuilder().setVcpus(number()).setVms(number())).build());
    unary(p + "ListProjects", ListProjectsRequest::getDefaultInstance);
    unary(p + "DeleteProject", () -> DeleteProjectRequest.newBuilder().setName(projectName())
        .build());
    unary(p + "SetProjectQuota", () -> SetProjectQuotaRequest.newBuilder()
        .setName(projectName()).setQuota(ProjectQuota.newBuilder().setMemoryMb(bigNumber())
            .setStoredBytes(bigNumber())).build());
    // Reservations only of 'default' (whose own requests it does not hold back) or of names that
    // mostly do not exist: a valid huge one elsewhere would hold back the check after the fuzz.
    unary(p + "SetProjectReservation", () -> org.servicefarm.api.v1.SetProjectReservationRequest
        .newBuilder().setName(r.nextBoolean() ? "default" : text()).setReservation(org.servicefarm.api.v1
            .ProjectReservation.newBuilder().setVcpus(number()).setMemoryMb(bigNumber()))
        .build());
    unary(p + "GetProjectUsage", () -> GetProjectUsageRequest.newBuilder()
        .setName(projectName()).build());
    String i = "servicefarm.v1.ImageStore/";
    add(i + "FetchBlob", MethodType.SERVER_STREAMING, () -> List.of(FetchBlobRequest.newBuilder()
        .setSha256(text()).setOffset(bigNumber()).build()));
    unary(i + "StatBlob", () -> StatBlobRequest.newBuilder().setSha256(text()).build());
    add(i + "PutBlob", MethodType.CLIENT_STREAMING, () -> List.of(
        PutBlobChunk.newBuilder().setHeader(PutBlobHeader.newBuilder().setSha256(text())
            .setSizeBytes(bigNumber())).build(),
        PutBlobChunk.newBuilder().setData(randomBytes(r.nextInt(4096))).build()));
    add("servicefarm.v1.AgentControl/Connect", MethodType.BIDI_STREAMING, this::agentStream);
  }

  private void unary(String method, Supplier<Message> message) {
    add(method, MethodType.UNARY, () -> List.of(message.get()));
  }

  private void add(String method, MethodType type, Supplier<List<? extends Message>> messages) {
    kinds.add(() -> {
      summary = "";
      List<byte[]> bytes = new ArrayList<>();
      for (Message m : messages.get()) {
        bytes.add(spoil(m.toByteArray()));
      }
      return new Call(method, type, credentials(), bytes, summary);
    });
  }

  Call next() {
    return kinds.get(r.nextInt(kinds.size())).get();
  }

  /** Mostly the message as built; else flipped bytes, cut short, random, or too large. */
  private byte[] spoil(byte[] message) {
    int roll = r.nextInt(100);
    if (roll < 60) {
      return message;
    }
    if (roll < 75 && message.length > 0) {
      byte[] flipped = message.clone();
      for (int n = 0; n <= r.nextInt(4); n++) {
        flipped[r.nextInt(flipped.length)] = (byte) r.nextInt(256);
      }
      summary += " [flipped bytes]";
      return flipped;
    }
    if (roll < 85 && message.length > 1) {
      summary += " [cut to " + message.length / 2 + " bytes]";
      return java.util.Arrays.copyOf(message, message.length / 2);
    }
    if (roll == 99 && r.nextInt(10) == 0) {
      int size = r.nextBoolean() ? LIMIT - 1024 : LIMIT + 1024;
      summary += " [" + size + " random bytes]";
      return randomBytes(size).toByteArray();
    }
    summary += " [random bytes]";
    return randomBytes(r.nextInt(512)).toByteArray();
  }

  /**
   * A live admin or client token mostly; else none, forged, revoked or not a bearer header; a
   * project-bound token a third of the time, and now and then a project named in the header.
   */
  private Metadata credentials() {
    Metadata headers = new Metadata();
    if (r.nextInt(6) == 0) {
      String project = projectName();
      if (project.chars().allMatch(c -> c >= ' ' && c <= '~')) {
        headers.put(PROJECT, project);
        summary += " [header project " + shown(project) + "]";
      }
    }
    if (!projectTokens.isEmpty() && r.nextInt(3) == 0) {
      headers.put(AUTHORIZATION, "Bearer " + projectTokens.get(r.nextInt(projectTokens.size())));
      summary += " " + PROJECT_BOUND;
      return headers;
    }
    int roll = r.nextInt(20);
    String value = switch (roll) {
      case 0 -> null;
      case 1 -> "Bearer sf_" + "A".repeat(43);
      case 2 -> "Bearer " + revoked;
      case 3 -> "Basic " + "x".repeat(r.nextInt(4000));
      case 4 -> "Bearer " + tokens.get(0).substring(0, 20);
      default -> "Bearer " + tokens.get(r.nextInt(tokens.size()));
    };
    if (value != null) {
      headers.put(AUTHORIZATION, value);
    }
    boolean admin = roll >= 5 && tokens.indexOf(value.substring("Bearer ".length())) % 2 == 0;
    summary += " [auth " + (value == null ? "none" : roll < 5 ? "bad #" + roll
        : admin ? "live admin" : "live client") + "]";
    return headers;
  }

  /** A path on the controller's host an attacker would like read into the image store. */
  private String path() {
    String[] hostile = {"/proc/self/environ", "/etc/shadow", "/dev/zero", "/proc/self/fd/0",
        "/var/lib/servicefarm/../../../etc/passwd", "/tmp"};
    String p = r.nextBoolean() ? hostile[r.nextInt(hostile.length)] : text();
    summary += " [path " + shown(p) + "]";
    return p;
  }

  /** A well-formed upload of a qcow2 whose header names a file on whatever host opens it. */
  private List<UploadImageChunk> hostileImage() {
    byte[] image = r.nextBoolean() ? Qcow2Bytes.withBackingFile(1 << 20, "/etc/shadow")
        : Qcow2Bytes.withDataFile(1 << 20, "/dev/vda");
    summary += " [qcow2 naming a host file]";
    return List.of(UploadImageChunk.newBuilder().setHeader(UploadImageHeader.newBuilder()
            .setName("hostile-" + r.nextInt(1000)).setFormat("qcow2").setSizeBytes(image.length))
            .build(),
        UploadImageChunk.newBuilder().setData(ByteString.copyFrom(image)).build());
  }

  private List<AgentMessage> agentStream() {
    List<AgentMessage> stream = new ArrayList<>();
    int roll = r.nextInt(6);
    String host = roll == 0 ? "h1" : r.nextBoolean() ? name() : "forged-" + r.nextInt(5);
    if (roll != 1) {
      summary += " [register " + shown(host) + "]";
      stream.add(AgentMessage.newBuilder().setRegister(Register.newBuilder().setHostId(host)
          .setAddress(text()).setHypervisor(text()).setAgentVersion(text())
          .setCapacity(HostCapacity.newBuilder().setVcpus(number()).setMemoryMb(bigNumber()))
          .addCachedImages(text()).addAllInventory(inventory())).build());
    }
    for (int n = 0; n < 1 + r.nextInt(3); n++) {
      stream.add(switch (r.nextInt(4)) {
        case 0 -> AgentMessage.newBuilder().setLoad(LoadReport.newBuilder()
            .addDomains(domain()).addCachedImages(text())).build();
        case 1 -> AgentMessage.newBuilder().setResult(CommandResult.newBuilder()
            .setCommandId(text()).setVmId(id()).setGeneration(bigNumber()).setOk(r.nextBoolean())
            .setError(text()).setErrorKindValue(number()).setStatus(domain())).build();
        case 2 -> AgentMessage.newBuilder().setProgress(CommandProgress.newBuilder()
            .setCommandId(text()).setVmId(id()).setPhase(text()).setDoneBytes(bigNumber())).build();
        default -> AgentMessage.getDefaultInstance();
      });
    }
    return stream;
  }

  /** Mostly one domain; now and then a flood of made-up ones. */
  private List<DomainStatus> inventory() {
    if (r.nextInt(20) != 0) {
      return List.of(domain());
    }
    summary += " [flooded inventory]";
    List<DomainStatus> flood = new ArrayList<>();
    for (int n = 0; n < 5000; n++) {
      flood.add(DomainStatus.newBuilder().setVmId(UUID.randomUUID().toString()).build());
    }
    return flood;
  }

  private DomainStatus domain() {
    return DomainStatus.newBuilder().setVmId(id()).setGeneration(bigNumber())
        .setPowerValue(number()).addPorts(PortForward.newBuilder().setGuestPort(number())
            .setHostPort(number())).build();
  }

  /** A project name as an attacker would send one: another project's, made up, or text. */
  private String projectName() {
    return switch (r.nextInt(5)) {
      case 0 -> foreign.isEmpty() ? "default" : foreign.get(foreign.size() - 1);
      case 1 -> "default";
      case 2 -> "proj-" + r.nextInt(50);
      default -> text();
    };
  }

  /** Now and then something of another project, to be answered as if it did not exist. */
  private String foreignOr(Supplier<String> otherwise) {
    if (!foreign.isEmpty() && r.nextInt(5) == 0) {
      String f = foreign.get(r.nextInt(foreign.size()));
      summary += " [foreign " + shown(f) + "]";
      return f;
    }
    return otherwise.get();
  }

  private ServiceDefinition definition() {
    ServiceDefinition.Builder d = ServiceDefinition.newBuilder().setName(name())
        .setProject(r.nextBoolean() ? "" : projectName()).setShared(r.nextInt(4) == 0)
        .setPort(number()).setVcpus(number()).setMemoryMb(bigNumber()).setCommand(text())
        .setSleepAfterSeconds(number()).setMaxInstances(number()).setMinActive(number());
    int packages = r.nextInt(10) == 0 ? 300 : r.nextInt(4);
    for (int n = 0; n < packages; n++) {
      // Never a valid package list: a definition the fuzz got right would start image builds.
      d.addPackages("B" + text());
    }
    if (r.nextBoolean()) {
      d.setImage(text());
    }
    for (int n = r.nextInt(10) == 0 ? 40 : r.nextInt(3); n > 0; n--) {
      d.addBundled(BundledService.newBuilder().setName(name()).setPort(number()));
    }
    for (int n = r.nextInt(10) == 0 ? 40 : r.nextInt(3); n > 0; n--) {
      d.putConstraints(text(), text());
    }
    if (r.nextBoolean()) {
      d.setSpreadBy(text()).setSpreadHard(r.nextBoolean()).setSpreadMaxSkew(number());
    }
    return d.build();
  }

  /** An overcommit ratio as an attacker would send one: negative, huge, NaN, infinite. */
  private double ratio() {
    double[] odd = {Double.NaN, Double.POSITIVE_INFINITY, -1.0, 0.0, 1e300, Double.MIN_VALUE};
    return r.nextBoolean() ? odd[r.nextInt(odd.length)] : r.nextDouble() * 100 - 10;
  }

  /** A name as an attacker would send one: never fuzz-web or h1, which the test watches. */
  private String name() {
    return foreignOr(() -> r.nextInt(3) == 0 ? "def-" + r.nextInt(1000) : text());
  }

  /** A service to request: undefined names (never a def-N the fuzz may define), or text. */
  private String requested() {
    return foreignOr(() -> r.nextBoolean() ? "req-" + r.nextInt(1000) : text());
  }

  private String id() {
    return foreignOr(() -> r.nextBoolean() ? UUID.randomUUID().toString() : text());
  }

  private String text() {
    String s = switch (r.nextInt(12)) {
      case 0 -> "";
      case 1 -> "a".repeat(10_000);
      case 2 -> "x\u0000y\u0007\u001b[31m";
      case 3 -> "'; DROP TABLE vms;--";
      case 4 -> "\" OR 1=1; --";
      case 5 -> "名前-サービス-😀";
      case 6 -> "../../../etc/passwd";
      case 7 -> "%s%n${jndi:ldap://x}";
      case 8 -> "\uFEFF\u202Eevil\u200B";
      case 9 -> "0".repeat(64);
      case 10 -> "b".repeat(r.nextInt(300));
      default -> r.ints(1 + r.nextInt(40), 1, 0x2FFF)
          .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append)
          .toString();
    };
    summary += " [" + shown(s) + "]";
    return s;
  }

  private int number() {
    int[] edges = {0, -1, 1, 80, 65535, 65536, Integer.MAX_VALUE, Integer.MIN_VALUE};
    return r.nextBoolean() ? edges[r.nextInt(edges.length)] : r.nextInt();
  }

  private long bigNumber() {
    long[] edges = {0, -1, 1, Long.MAX_VALUE, Long.MIN_VALUE, 1L << 40};
    return r.nextBoolean() ? edges[r.nextInt(edges.length)] : r.nextLong();
  }

  private ByteString randomBytes(int size) {
    byte[] bytes = new byte[size];
    r.nextBytes(bytes);
    return ByteString.copyFrom(bytes);
  }

  private static String shown(String s) {
    String head = s.length() > 24 ? s.substring(0, 24) + "…" + s.length() : s;
    return head.replaceAll("\\p{Cntrl}", "?");
  }
}
