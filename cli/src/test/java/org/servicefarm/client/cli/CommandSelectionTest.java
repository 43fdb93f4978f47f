package org.servicefarm.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * farmctl registers only the command a run names, so picocli models one command instead of all of
 * them; what a user sees must not change: every command's help, errors and the root's help are
 * those of the whole tree.
 */
class CommandSelectionTest {

  private static final ClientFactory NO_FARM = options -> {
    throw new AssertionError("help and usage errors must not connect to a farm");
  };

  /** What a run printed and returned. */
  private record Run(int exitCode, String out, String err) {}

  private static Run run(CommandLine commandLine, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    commandLine.setOut(new PrintWriter(out, true));
    commandLine.setErr(new PrintWriter(err, true));
    int exitCode = commandLine.execute(args);
    return new Run(exitCode, out.toString(), err.toString());
  }

  @Test
  void theCommandIsTheFirstArgumentAfterTheRootsOptionsAndTheirValues() {
    assertEquals(Optional.of("services"), CommandSelection.commandName(new String[] {
        "--target", "10.0.0.5:50051", "-o", "json", "--token-file", "t", "services"}));
    assertEquals(Optional.of("vms"), CommandSelection.commandName(new String[] {
        "--target=10.0.0.5:50051", "--plaintext", "-ojson", "vms", "--state", "active"}));
    assertEquals(Optional.of("vm"), CommandSelection.commandName(new String[] {
        "--", "vm", "get", "vm-1"}));
    assertEquals(Optional.empty(), CommandSelection.commandName(new String[] {"--help"}));
    assertEquals(Optional.empty(), CommandSelection.commandName(new String[] {}));
  }

  @Test
  void aRunOfOneCommandRegistersOnlyThatCommand() {
    assertEquals(List.of(ServicesCommand.class),
        CommandSelection.forArguments(new String[] {"--target", "h:1", "services"}));
    assertEquals(List.of(VmCommand.class),
        CommandSelection.forArguments(new String[] {"vm", "list", "--state", "sleeping"}));

    CommandLine forRequest = FarmCtl.commandLineFor(new String[] {"request", "redis"}, NO_FARM);
    assertEquals(Set.of("request"), forRequest.getSubcommands().keySet());
  }

  @Test
  void rootHelpUnknownCommandsAndCompletionGetEveryCommand() {
    for (String[] args : List.of(new String[] {"--help"}, new String[] {},
        new String[] {"servics"}, new String[] {"completion", "bash"})) {
      assertEquals(CommandSelection.ALL, CommandSelection.forArguments(args), String.join(" ", args));
    }
  }

  @Test
  void everyCommandsHelpIsTheSameAloneAsInTheWholeTree() {
    // One whole tree for every comparison: picocli resets it before each run.
    CommandLine wholeTree = FarmCtl.commandLine(NO_FARM);
    List<List<String>> paths = new ArrayList<>();
    collectPaths(wholeTree, List.of(), paths);
    assertTrue(paths.size() > 30, "walked only " + paths);

    for (List<String> path : paths) {
      List<String> args = new ArrayList<>(List.of("--target", "10.0.0.5:50051"));
      args.addAll(path);
      args.add("--help");
      String[] argv = args.toArray(String[]::new);

      Run whole = run(wholeTree, argv);
      Run selected = run(FarmCtl.commandLineFor(argv, NO_FARM), argv);

      assertEquals(0, selected.exitCode(), selected.err());
      assertEquals(whole.out(), selected.out(), "help of " + path);
    }
  }

  @Test
  void usageErrorsAreTheSameAloneAsInTheWholeTree() {
    CommandLine wholeTree = FarmCtl.commandLine(NO_FARM);
    for (String[] argv : List.of(new String[] {"servics"}, new String[] {"vm", "bogus"},
        new String[] {"services", "--bogus"}, new String[] {"--bogus", "services"},
        new String[] {"vms", "--state", "dreaming"}, new String[] {"request"})) {
      Run whole = run(wholeTree, argv);
      Run selected = run(FarmCtl.commandLineFor(argv, NO_FARM), argv);

      assertEquals(ExitCodes.USAGE, selected.exitCode(), String.join(" ", argv));
      assertEquals(whole.err(), selected.err(), String.join(" ", argv));
    }
  }

  private static void collectPaths(CommandLine command, List<String> path,
      List<List<String>> paths) {
    for (var sub : command.getSubcommands().entrySet()) {
      List<String> subPath = new ArrayList<>(path);
      subPath.add(sub.getKey());
      paths.add(subPath);
      collectPaths(sub.getValue(), subPath, paths);
    }
  }
}
