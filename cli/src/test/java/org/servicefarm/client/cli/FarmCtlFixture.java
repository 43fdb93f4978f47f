package org.servicefarm.client.cli;


import com.google.protobuf.Timestamp;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.HostCapacity;
import org.servicefarm.api.v1.HostLoad;
import org.servicefarm.api.v1.HostStatus;
import org.servicefarm.api.v1.RequestServiceResponse;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FakeFarmServer;
import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import picocli.CommandLine;

/**
 * Where a farmctl test starts: the fake farm answering "redis", and farmctl run through picocli
 * as a shell would run it, with what it printed and its exit code.
 */
abstract class FarmCtlFixture {

  FakeFarmServer farm;
  FarmClientOptions lastOptions;

  /** What a farmctl run left behind. */
  record Run(int exitCode, String out, String err) {}

  @BeforeEach
  void startFarm() throws Exception {
    farm = new FakeFarmServer();
    farm.broker.answer("redis", RequestServiceResponse.newBuilder()
        .setVmId("vm-7")
        .setAccess(Access.newBuilder().setService("redis").setHost("10.0.0.5").setPort(40123))
        .setState(VmState.VM_STATE_ACTIVE)
        .setCreated(true)
        .build());
  }

  @AfterEach
  void stopFarm() {
    farm.close();
  }

  Run farmctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    // Built as main builds it, with only the commands these arguments run.
    CommandLine commandLine = FarmCtl.commandLineFor(args, options -> {
      lastOptions = options;
      return new FarmClient(farm.channel(), options);
    });
    commandLine.setOut(new PrintWriter(out, true));
    commandLine.setErr(new PrintWriter(err, true));
    int exitCode = commandLine.execute(args);
    return new Run(exitCode, out.toString(), err.toString());
  }

  static List<String> words(String line) {
    return List.of(line.trim().split("\\s+"));
  }

  static Vm vm(String id, VmState state) {
    return Vm.newBuilder().setId(id).setState(state).setDesiredState(state).setHostId("host-a")
        .setDefinition("redis").addServices("redis")
        .addAccess(Access.newBuilder().setService("redis").setHost("10.0.0.5").setPort(40000))
        .build();
  }

  static Host host(String id, String address, double cpuPercent) {
    return Host.newBuilder().setId(id).setStatus(HostStatus.HOST_STATUS_UP).setAddress(address)
        .setHypervisor("kvm").setConnected(true)
        .setCapacity(HostCapacity.newBuilder().setVcpus(8).setMemoryMb(16384).setDiskMb(100_000))
        .setLoad(HostLoad.newBuilder().setCpuPercent(cpuPercent).setMemoryUsedMb(1024)
            .setMemoryTotalMb(8192).setVmCount(3))
        .setAllocatedVcpus(2).setAllocatedMemoryMb(512)
        .setLastReportAt(Timestamp.newBuilder().setSeconds(1_767_225_600))
        .build();
  }
}
