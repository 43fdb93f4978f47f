package org.servicefarm.e2e.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.ProjectQuota;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.ServiceAccess;
import org.servicefarm.e2e.support.ProcessFarm;

/**
 * Ten thousand malformed and hostile requests against a farm of real processes, spread over
 * every RPC: no answer may be INTERNAL or UNKNOWN (a controller bug), and afterwards the
 * controller still serves, and the farm's tables still add up. {@link HostileInputs} makes the
 * inputs; the seed is printed so a failure can be replayed with -Dfuzz.seed=N.
 */
class HostileRequestFuzzTest {
  private static final int REQUESTS = 10_240;
  private static final int IN_FLIGHT = 24;
  /** Starts an answer that carried a row of another project to a project-bound token. */
  private static final String LEAKED = "OK leaked: ";

  /** Sends messages as they are: the fuzzer's bytes, not a generated stub's. */
  private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream in) {
      try {
        return in.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  @Test
  void hostileRequestsNeverAnswerInternalAndLeaveTheFarmConsistent() throws Exception {
    long seed = Long.getLong("fuzz.seed", System.nanoTime());
    long projectBound = 0;
    try (ProcessFarm farm = new ProcessFarm("test:///default")) {
      farm.startController();
      farm.startAgent("h1");
      farm.awaitConnected(List.of("h1"));
      FarmClient admin = farm.client();
      admin.defineService(ServiceDefinition.newBuilder().setName("fuzz-web").addPackages("busybox")
          .setPort(80).setVcpus(1).setMemoryMb(256).build());
      ServiceAccess before = admin.requestService("fuzz-web");
      List<String> tokens = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        tokens.add(admin.tokens().create("fuzz-admin-" + i, "admin").getSecret());
        tokens.add(admin.tokens().create("fuzz-client-" + i, "client").getSecret());
      }
      String revoked = admin.tokens().create("fuzz-revoked", "client").getSecret();
      admin.tokens().revoke("fuzz-revoked");
      // Two projects: the fuzz's project-bound tokens must never read a row of the other one,
      // whose ids and names the fuzz sends wherever an id or name goes.
      admin.projects().create("fuzz-team", ProjectQuota.getDefaultInstance());
      admin.projects().create("fuzz-other", ProjectQuota.getDefaultInstance());
      List<String> projectTokens = List.of(
          admin.tokens().create("fuzz-team-client", "client", "fuzz-team").getSecret(),
          admin.tokens().create("fuzz-team-admin", "admin", "fuzz-team").getSecret());
      admin.defineService(ServiceDefinition.newBuilder().setName("other-web")
          .addPackages("busybox").setPort(80).setVcpus(1).setMemoryMb(128)
          .setProject("fuzz-other").build());
      ServiceAccess others = admin.requestService("other-web", "other-deploy");
      String otherOperation = admin.requestServiceNoWait("other-web", "other-deploy-2")
          .getOperationId();
      // The project's name last: HostileInputs sends it where a project name goes.
      List<String> foreign = List.of(others.vmId(), others.lease().id(), otherOperation,
          "other-web", "fuzz-other");

      HostileInputs inputs = new HostileInputs(new Random(seed), tokens, revoked, projectTokens,
          foreign);
      Map<Status.Code, Integer> byCode = new TreeMap<>();
      List<String> offenders = new ArrayList<>();
      long started = System.nanoTime();
      ManagedChannel channel = ManagedChannelBuilder.forTarget(farm.target()).usePlaintext()
          .maxInboundMessageSize(16 * 1024 * 1024).build();
      try {
        ConcurrentLinkedQueue<String> answers = new ConcurrentLinkedQueue<>();
        Semaphore slots = new Semaphore(IN_FLIGHT);
        for (int i = 0; i < REQUESTS; i++) {
          slots.acquire();
          HostileInputs.Call call = inputs.next();
          if (HostileInputs.oversized(call)) {
            // A message past the limit is refused, but the gRPC server may then end the whole
            // connection (a write of the stream's handler racing the refusal's trailers): the
            // sender loses its own connection, and only that. Each such call gets a connection
            // of its own, so the other calls are not counted as its casualties.
            ManagedChannel own = ManagedChannelBuilder.forTarget(farm.target()).usePlaintext()
                .maxInboundMessageSize(16 * 1024 * 1024).build();
            send(own, call, answers, () -> {
              own.shutdown();
              slots.release();
            }, foreign);
          } else {
            send(channel, call, answers, slots::release, foreign);
          }
        }
        slots.acquire(IN_FLIGHT);
        projectBound = answers.stream().filter(a -> a.contains(HostileInputs.PROJECT_BOUND))
            .count();
        for (String answer : answers) {
          Status.Code code = Status.Code.valueOf(answer.substring(0, answer.indexOf(' ')));
          byCode.merge(code, 1, Integer::sum);
          if (code == Status.Code.INTERNAL || code == Status.Code.UNKNOWN
              || answer.startsWith(LEAKED)) {
            offenders.add(answer);
          }
          // The image store serves admins (and certified agents, of which the fuzz has none),
          // nothing is registered by path without an import directory, and no image naming a
          // host file is taken in.
          if (code == Status.Code.OK && (answer.contains(" servicefarm.v1.ImageStore/")
              && !answer.contains("[auth live admin]")
              || answer.contains(" servicefarm.v1.FarmAdmin/RegisterImage:")
              || answer.contains("[qcow2 naming a host file]"))) {
            offenders.add("accepted: " + answer);
          }
        }
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
      long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);

      // A forged Register may have replaced h1's stream and capacity: the real agent comes back.
      farm.awaitTrue("h1 re-registered with its real capacity", java.time.Duration.ofSeconds(60),
          () -> admin.listHosts().stream().anyMatch(h -> h.getId().equals("h1")
              && h.getConnected() && h.getCapacity().getVcpus() == 8));
      ServiceAccess after = admin.requestService("fuzz-web");
      List<Vm> vms = admin.listVms();
      long lost = vms.stream().filter(v -> v.getId().equals(before.vmId()))
          .filter(v -> v.getState() != VmState.VM_STATE_FAILED
              && v.getState() != VmState.VM_STATE_DELETED).count() == 1 ? 0 : 1;
      System.out.println("fuzz: seed=" + seed + ", requests=" + REQUESTS + " in " + seconds
          + " s, by code " + byCode + ", INTERNAL=" + byCode.getOrDefault(Status.Code.INTERNAL, 0)
          + ", UNKNOWN=" + byCode.getOrDefault(Status.Code.UNKNOWN, 0)
          + ", controller alive, VMs lost: " + lost + ", calls with a project-bound token: "
          + projectBound + ", rows of another project read: "
          + offenders.stream().filter(o -> o.startsWith(LEAKED)).count());
      offenders.stream().limit(40).forEach(o -> System.out.println("  offender: " + o));

      assertTrue(offenders.isEmpty(), offenders.size() + " calls answered INTERNAL or UNKNOWN,"
          + " or accepted what must be refused"
          + " (seed " + seed + "), first: " + offenders.stream().limit(5).toList());
      assertEquals(before.vmId(), after.vmId(), "the service is still answered by its VM");
      assertEquals(0, lost, "the VM requested before the fuzz survives it");
      assertConsistent(admin.listHosts(), vms);
    }
  }

  /** Sends one hostile call and records "CODE method: description | input" when it ends. */
  private static void send(ManagedChannel channel, HostileInputs.Call call,
      ConcurrentLinkedQueue<String> answers, Runnable whenClosed, List<String> foreign) {
    MethodDescriptor<byte[], byte[]> method = MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(call.type()).setFullMethodName(call.method())
        .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
    ClientCall<byte[], byte[]> c = channel.newCall(method,
        CallOptions.DEFAULT.withDeadlineAfter(3, TimeUnit.SECONDS));
    boolean streamsBack = call.type() == MethodDescriptor.MethodType.SERVER_STREAMING
        || call.type() == MethodDescriptor.MethodType.BIDI_STREAMING;
    c.start(new ClientCall.Listener<>() {
      @Override
      public void onMessage(byte[] message) {
        if (call.summary().contains(HostileInputs.PROJECT_BOUND)) {
          String body = new String(message, java.nio.charset.StandardCharsets.ISO_8859_1);
          foreign.stream().filter(body::contains).findFirst().ifPresent(f -> answers.add(
              LEAKED + call.method() + " answered a project-bound token with '" + f + "' | "
                  + call.summary()));
        }
        if (streamsBack) {
          // One answer shows the call was served; a watch would otherwise run to its deadline.
          c.cancel("the fuzzer has its answer", null);
        }
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        answers.add(status.getCode() + " " + call.method() + ": " + status.getDescription()
            + " | " + call.summary());
        whenClosed.run();
      }
    }, call.headers());
    c.request(Integer.MAX_VALUE);
    for (byte[] message : call.messages()) {
      c.sendMessage(message);
    }
    c.halfClose();
  }

  /** The farm's tables, as the API shows them, still obey the farm's rules. */
  private static void assertConsistent(List<Host> hosts, List<Vm> vms) {
    for (Host h : hosts) {
      assertTrue(h.getAllocatedMemoryMb() <= h.getCapacity().getMemoryMb(),
          "host " + h.getId() + " promised " + h.getAllocatedMemoryMb() + " MB of "
              + h.getCapacity().getMemoryMb());
      // The controller overcommits CPU four times by default (ControllerConfig.cpuOvercommit).
      assertTrue(h.getAllocatedVcpus() <= 4 * h.getCapacity().getVcpus(),
          "host " + h.getId() + " promised " + h.getAllocatedVcpus() + " vCPUs of "
              + h.getCapacity().getVcpus());
    }
    long fuzzWeb = vms.stream().filter(v -> v.getDefinition().equals("fuzz-web"))
        .filter(v -> v.getState() != VmState.VM_STATE_DELETED).count();
    assertEquals(1, fuzzWeb, "fuzz-web allows one VM (max_instances 1): " + vms);
    for (Vm v : vms) {
      assertTrue(v.getState() != VmState.UNRECOGNIZED
          && v.getState() != VmState.VM_STATE_UNSPECIFIED, "VM " + v.getId() + " in state "
          + v.getStateValue());
    }
  }

}
