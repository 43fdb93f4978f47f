package org.servicefarm.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.config.DaemonConfig;
import org.servicefarm.config.OptionsReadme;
import org.servicefarm.config.SettableOptions;
import org.servicefarm.controller.reconcile.Failpoints;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine;

/** The controller's configuration as an operator meets it: README, files, environment. */
class ControllerConfigTest {
  @TempDir Path dir;

  private record Outcome(int exitCode, String out, String err) {}

  private Outcome run(Map<String, String> env, String... args) {
    CommandLine cli = ControllerMain.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int code = DaemonConfig.execute(cli, args, env, dir.resolve("controller.conf"));
    return new Outcome(code, out.toString(), err.toString());
  }

  @Test
  void everyOptionIsInTheReadmeWithItsKeyVariableAndDefault() throws IOException {
    OptionsReadme.assertListed(ControllerMain.commandLine().getCommandSpec(), "### Controller options");
  }

  /** Combinations that would expose the farm stop the start, before any part of it runs. */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
      "--listen 192.0.2.10:50051 | --listen 192.0.2.10:50051 is not a loopback address;"
          + " plaintext there needs --insecure",
      "--auth none --listen 192.0.2.10:50051 --insecure | --auth none is allowed only in"
          + " plaintext on a loopback address, not with --listen 192.0.2.10:50051",
      "--tls-cert /nowhere/cert.pem | TLS needs both --tls-cert and --tls-key (got --tls-cert"
          + " /nowhere/cert.pem)"})
  void exposingCombinationsAreRefusedNamingTheFlags(String args, String refusal) {
    // A usage error (exit 2); the database named is never reached: the refusal comes first.
    Outcome outcome = run(Map.of(), (args + " --data-dir " + dir.resolve("data")
        + " --database-url jdbc:postgresql://127.0.0.1:1/none").split(" "));
    assertEquals(2, outcome.exitCode(), outcome.err());
    assertTrue(outcome.err().contains(refusal), outcome.err());
  }

  @Test
  void flagBeatsEnvironmentBeatsFileBeatsDefault() throws IOException {
    Files.write(dir.resolve("controller.conf"), List.of("# the default file",
        "listen = 127.0.0.1:7001", "advertise = file.example:7001", "orphan-grace = 90"));
    Outcome outcome = run(Map.of("SERVICEFARM_LISTEN", "127.0.0.1:7002",
        "SERVICEFARM_ADVERTISE", "env.example:7002"),
        "--advertise", "flag.example:7003", "--print-config");
    assertEquals(0, outcome.exitCode(), outcome.err());
    String out = outcome.out();
    assertTrue(out.contains("# from flag --advertise\nadvertise = flag.example:7003\n"), out);
    assertTrue(out.contains("# from env SERVICEFARM_LISTEN\nlisten = 127.0.0.1:7002\n"), out);
    assertTrue(out.contains("# from " + dir.resolve("controller.conf") + ":4\n"
        + "orphan-grace = 90\n"), out);
    assertTrue(out.contains("# default\nauth = tokens\n"), out);
    assertTrue(out.contains("# default\norphans = report\n"), out);
  }

  @Test
  void unknownKeyInTheFileIsRefusedWithItsLine() throws IOException {
    Path conf = Files.write(dir.resolve("other.conf"), List.of("listen = 127.0.0.1:7001",
        "database_url = jdbc:postgresql://db/farm"));
    Outcome outcome = run(Map.of(), "--config", conf.toString());
    assertEquals(2, outcome.exitCode());
    assertTrue(outcome.err().startsWith("servicefarm-controller: " + conf + ":2: unknown key"
        + " 'database_url' (did you mean 'database-url'?)"), outcome.err());
  }

  @Test
  void printConfigHidesTheDatabasePasswordButNotTheKeyFile() {
    Outcome outcome = run(Map.of("SERVICEFARM_DB_PASSWORD", "hunter2"), "--print-config",
        "--database-url", "jdbc:postgresql://db:5432/farm?password=hunter2",
        "--tls-key", "/etc/servicefarm/pki/controller-key.pem");
    assertFalse(outcome.out().contains("hunter2"), outcome.out());
    assertTrue(outcome.out().contains("database-url = jdbc:postgresql://db:5432/farm"
        + "?password=<redacted>\n"), outcome.out());
    assertTrue(outcome.out().contains("tls-key = /etc/servicefarm/pki/controller-key.pem\n"),
        outcome.out());
  }

  @Test
  void theVariablesThatAreNotOptionsNameNoOption() {
    for (OptionSpec option : SettableOptions.of(ControllerMain.commandLine().getCommandSpec())) {
      assertFalse(List.of("SERVICEFARM_DB_PASSWORD", Failpoints.ENV)
          .contains(SettableOptions.envName(option)), option.longestName());
    }
  }

  @Test
  void badValueFromTheEnvironmentNamesOptionValueAndVariable() {
    Outcome outcome = run(Map.of("SERVICEFARM_ORPHANS", "shred"), "--print-config");
    assertEquals(2, outcome.exitCode());
    assertTrue(outcome.err().contains("--orphans was set by env SERVICEFARM_ORPHANS"),
        outcome.err());
    assertTrue(Pattern.compile("Invalid value for option '--orphans'.*'shred'")
        .matcher(outcome.err()).find(), outcome.err());
  }
}
