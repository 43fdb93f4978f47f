package org.servicefarm.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.HostStatus;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.client.FakeFarmServer;
import org.servicefarm.client.FarmClient;
import picocli.CommandLine;
import picocli.CommandLine.Help.Ansi;

/** The shape of farmctl's command tree: help everywhere, completion, and the list commands. */
class FarmCtlCommandTreeTest {

  private FakeFarmServer farm;

  /** What a farmctl run left behind. */
  private record Run(int exitCode, String out, String err) {}

  @BeforeEach
  void startFarm() throws Exception {
    farm = new FakeFarmServer();
  }

  @AfterEach
  void stopFarm() {
    farm.close();
  }

  private CommandLine farmctlTree() {
    return FarmCtl.commandLine(options -> new FarmClient(farm.channel(), options));
  }

  private Run farmctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine commandLine = farmctlTree();
    commandLine.setOut(new PrintWriter(out, true));
    commandLine.setErr(new PrintWriter(err, true));
    int exitCode = commandLine.execute(args);
    return new Run(exitCode, out.toString(), err.toString());
  }

  @Test
  void everyCommandsHelpShowsAnExampleOfThatCommand() {
    List<String> withoutExample = new ArrayList<>();
    List<CommandLine> commands = everyCommand(farmctlTree());
    for (CommandLine command : commands) {
      String usage = command.getUsageMessage(Ansi.OFF);
      String name = command.getCommandSpec().qualifiedName();
      int example = usage.indexOf("\nExample");
      // An example of this very command, not just of its parent.
      if (example < 0 || !usage.substring(example).contains(name)) {
        withoutExample.add(name);
      }
    }

    List<String> walked = commands.stream().map(c -> c.getCommandSpec().qualifiedName()).toList();
    assertTrue(walked.containsAll(List.of("farmctl", "farmctl vm list", "farmctl host list",
        "farmctl pki client", "farmctl completion bash")), "walked only " + walked);
    assertEquals(List.of(), withoutExample, "commands whose --help shows no example of them");
  }

  @Test
  void helpOfAnAddedListCommandShowsItsOwnName() {
    Run run = farmctl("vm", "list", "--help");

    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.out().contains("  farmctl vm list --state sleeping"), run.out());
    assertTrue(run.out().contains("Exit codes:"), run.out());
  }

  @Test
  void bashCompletionOffersEveryCommand() {
    Run run = farmctl("completion", "bash");

    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.out().startsWith("#!/usr/bin/env bash"), run.out().lines().findFirst().get());
    assertTrue(run.out().contains("complete -F _complete_farmctl"), "registers for farmctl");
    for (String command : List.of("request", "services", "vms", "hosts", "events", "lease",
        "image", "token", "pki", "completion")) {
      assertTrue(run.out().contains(" " + command), "offers " + command);
    }
    // Subcommands are completed after their parent, with their own options.
    assertTrue(run.out().contains("_picocli_farmctl_vm_list"), "vm list");
    assertTrue(run.out().contains("_picocli_farmctl_host_drain"), "host drain");
    assertTrue(run.out().contains("--output"), "options");
  }

  @Test
  void vmListPrintsWhatVmsPrints() {
    farm.admin.vms.add(Vm.newBuilder().setId("vm-1").setState(VmState.VM_STATE_ACTIVE)
        .setHostId("host-a").addServices("redis")
        .addAccess(Access.newBuilder().setService("redis").setHost("10.0.0.5").setPort(40000))
        .build());

    for (String format : List.of("table", "json")) {
      Run vmList = farmctl("vm", "list", "--service", "redis", "-o", format);
      Run vms = farmctl("vms", "--service", "redis", "-o", format);

      assertEquals(0, vmList.exitCode(), vmList.err());
      assertTrue(vmList.out().contains("vm-1"), vmList.out());
      assertEquals(vms.out(), vmList.out());
    }
  }

  @Test
  void hostListPrintsWhatHostsPrints() {
    farm.admin.hosts.add(Host.newBuilder().setId("host-a").setStatus(HostStatus.HOST_STATUS_UP)
        .setAddress("10.0.0.5").setConnected(true).build());

    Run hostList = farmctl("host", "list");
    Run hosts = farmctl("hosts");

    assertEquals(0, hostList.exitCode(), hostList.err());
    assertTrue(hostList.out().lines().toList().get(1).startsWith("host-a"), hostList.out());
    assertEquals(hosts.out(), hostList.out());
  }

  private static List<CommandLine> everyCommand(CommandLine root) {
    List<CommandLine> commands = new ArrayList<>();
    commands.add(root);
    for (CommandLine sub : root.getSubcommands().values()) {
      commands.addAll(everyCommand(sub));
    }
    return commands;
  }
}
