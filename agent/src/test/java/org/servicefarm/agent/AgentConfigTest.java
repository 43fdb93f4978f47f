package org.servicefarm.agent;

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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.config.DaemonConfig;
import org.servicefarm.config.OptionsReadme;
import org.servicefarm.config.SettableOptions;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** The agent's configuration as an operator meets it: README, files, environment. */
class AgentConfigTest {
  @TempDir Path dir;

  private record Outcome(int exitCode, String out, String err) {}

  private Outcome run(Map<String, String> env, String... args) {
    CommandLine cli = new CommandLine(new AgentMain());
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int code = DaemonConfig.execute(cli, args, env, dir.resolve("agent.conf"));
    return new Outcome(code, out.toString(), err.toString());
  }

  @Test
  void everyOptionIsInTheReadmeWithItsKeyVariableAndDefault() throws IOException {
    OptionsReadme.assertListed(new CommandLine(new AgentMain()).getCommandSpec(),
        "### Agent options");
  }

  @Test
  void flagBeatsEnvironmentBeatsFileBeatsDefault() throws IOException {
    Files.write(dir.resolve("agent.conf"), List.of("host-id = from-file",
        "libvirt-uri = test:///default", "state-dir = /srv/farm", "cache-max-mb = 512"));
    Outcome outcome = run(Map.of("SERVICEFARM_HOST_ID", "from-env",
        "SERVICEFARM_STATE_DIR", "/srv/env"), "--state-dir", "/srv/flag", "--print-config");
    assertEquals(0, outcome.exitCode(), outcome.err());
    String out = outcome.out();
    assertTrue(out.contains("# from flag --state-dir\nstate-dir = /srv/flag\n"), out);
    assertTrue(out.contains("# from env SERVICEFARM_HOST_ID\nhost-id = from-env\n"), out);
    assertTrue(out.contains("# from " + dir.resolve("agent.conf") + ":4\ncache-max-mb = 512\n"),
        out);
    assertTrue(out.contains("# default\nport-range = 20000-29999\n"), out);
  }

  @Test
  void labelsComeFromTheFileLikeAnyOptionAndAMalformedOneStopsTheAgent() throws IOException {
    Files.write(dir.resolve("agent.conf"), List.of("host-id = h1",
        "libvirt-uri = test:///default", "label = zone=a,rack=r1"));
    Outcome shown = run(Map.of(), "--print-config");
    assertEquals(0, shown.exitCode(), shown.err());
    assertTrue(shown.out().contains("label = zone=a,rack=r1"), shown.out());
    assertEquals(Map.of("zone", "a", "rack", "r1"), HostLabels.parse("zone=a, rack=r1"));

    Outcome bad = run(Map.of("SERVICEFARM_LABEL", "zone=a,Rack=r1"));
    assertEquals(2, bad.exitCode());
    assertTrue(bad.err().contains("--label: 'Rack=r1' is not KEY=VALUE"), bad.err());
  }

  @Test
  void hostIdFromTheEnvironmentSatisfiesTheRequiredOption() {
    Outcome outcome = run(Map.of("SERVICEFARM_HOST_ID", "Host_1"),
        "--libvirt-uri", "test:///default");
    // It reaches the agent's own checks, which refuse the value rather than its absence.
    assertEquals(2, outcome.exitCode());
    assertTrue(outcome.err().contains("--host-id 'Host_1' must match"), outcome.err());
  }

  @Test
  void printConfigShowsAMissingHostIdInsteadOfRefusing() {
    Outcome outcome = run(Map.of(), "--print-config");
    assertEquals(0, outcome.exitCode(), outcome.err());
    assertTrue(outcome.out().contains("# not set\n#host-id =\n"), outcome.out());
  }

  @Test
  void unknownKeyInTheFileIsRefusedWithItsLine() throws IOException {
    Path conf = Files.write(dir.resolve("other.conf"), List.of("host-id = h1",
        "# libvirt", "libvirt-url = qemu:///system"));
    Outcome outcome = run(Map.of(), "--config", conf.toString());
    assertEquals(2, outcome.exitCode());
    assertTrue(outcome.err().startsWith("servicefarm-agent: " + conf + ":3: unknown key"
        + " 'libvirt-url' (did you mean 'libvirt-uri'?)"), outcome.err());
  }

  @Test
  void theVariablesThatAreNotOptionsNameNoOption() {
    for (OptionSpec option : SettableOptions.of(new CommandLine(new AgentMain())
        .getCommandSpec())) {
      assertFalse(List.of("SERVICEFARM_DB_PASSWORD", "SERVICEFARM_FAILPOINT")
          .contains(SettableOptions.envName(option)), option.longestName());
    }
  }
}
