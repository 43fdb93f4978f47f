package org.servicefarm.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class DaemonConfigTest {
  @TempDir Path dir;

  private record Outcome(int exitCode, String out, String err, SampleDaemon daemon) {}

  private Outcome run(Map<String, String> env, String... args) {
    SampleDaemon daemon = new SampleDaemon();
    CommandLine cli = new CommandLine(daemon);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int code = DaemonConfig.execute(cli, args, env, dir.resolve("absent-default.conf"));
    return new Outcome(code, out.toString(), err.toString(), daemon);
  }

  private Path file(String name, String... lines) throws IOException {
    return Files.write(dir.resolve(name), java.util.List.of(lines));
  }

  @Test
  void flagBeatsEnvironmentBeatsFileBeatsDefault() throws IOException {
    Path conf = file("d.conf", "# sample", "listen = 10.0.0.1:1", "host-id = from-file",
        "liveness-timeout = 30");
    Outcome outcome = run(Map.of("SERVICEFARM_LISTEN", "10.0.0.2:2",
            "SERVICEFARM_HOST_ID", "from-env"),
        "--config", conf.toString(), "--listen", "10.0.0.3:3", "--print-config");
    assertEquals(0, outcome.exitCode(), outcome.err());
    String out = outcome.out();
    assertTrue(out.contains("# from flag --listen\nlisten = 10.0.0.3:3\n"), out);
    assertTrue(out.contains("# from env SERVICEFARM_HOST_ID\nhost-id = from-env\n"), out);
    assertTrue(out.contains("# from " + conf + ":4\nliveness-timeout = 30\n"), out);
    assertTrue(out.contains("# default\ninsecure = false\n"), out);
    assertTrue(out.contains("# not set\n#database-url =\n"), out);
    assertFalse(outcome.daemon().ran, "--print-config must not start the daemon");
  }

  @Test
  void valuesFromEnvironmentAndFileReachTheDaemon() throws IOException {
    Path conf = file("d.conf", "insecure = true", "liveness-timeout = 30");
    Outcome outcome = run(Map.of("SERVICEFARM_HOST_ID", "h1"), "--config=" + conf);
    assertEquals(0, outcome.exitCode(), outcome.err());
    assertTrue(outcome.daemon().ran);
    assertEquals("h1", outcome.daemon().hostId);
    assertTrue(outcome.daemon().insecure);
    assertEquals(30, outcome.daemon().livenessTimeout);
    assertEquals("127.0.0.1:50051", outcome.daemon().listen);
  }

  @Test
  void emptyEnvironmentVariableCountsAsUnset() throws IOException {
    Path conf = file("d.conf", "host-id = from-file");
    Outcome outcome = run(Map.of("SERVICEFARM_HOST_ID", ""), "--config", conf.toString());
    assertEquals("from-file", outcome.daemon().hostId);
  }

  @Test
  void defaultFileIsReadWhenItExistsAndNoConfigIsGiven() throws IOException {
    file("absent-default.conf", "host-id = from-default-file");
    Outcome outcome = run(Map.of(), "--print-config");
    assertTrue(outcome.out().contains("# config file: " + dir.resolve("absent-default.conf")),
        outcome.out());
    assertTrue(outcome.out().contains("host-id = from-default-file"), outcome.out());
  }

  @Test
  void unknownKeyNamesFileLineAndTheNearestKey() throws IOException {
    Path conf = file("d.conf", "host-id = h1", "", "livenes-timeout = 5");
    Outcome outcome = run(Map.of(), "--config", conf.toString());
    assertEquals(2, outcome.exitCode());
    assertTrue(outcome.err().contains(conf + ":3: unknown key 'livenes-timeout' (did you mean"
        + " 'liveness-timeout'?)"), outcome.err());
    assertFalse(outcome.daemon().ran);
  }

  @Test
  void configAndHelpOptionsCannotBeSetInAFile() throws IOException {
    Path conf = file("d.conf", "config = /etc/other.conf");
    Outcome outcome = run(Map.of(), "--config", conf.toString());
    assertEquals(2, outcome.exitCode());
    assertTrue(outcome.err().contains(":1: unknown key 'config'"), outcome.err());
  }

  @Test
  void unreadableConfigFileIsNamedWithoutAStackTrace() {
    Path missing = dir.resolve("missing.conf");
    Outcome outcome = run(Map.of(), "--config", missing.toString(), "--host-id", "h1");
    assertEquals(2, outcome.exitCode());
    assertEquals("sample-daemon: cannot read config file " + missing + ": no such file\n",
        outcome.err());
  }

  @Test
  void lineWithoutEqualsAndRepeatedKeyAreRefusedWithTheirLine() throws IOException {
    Outcome noEquals = run(Map.of(), "--config", file("a.conf", "listen 1.2.3.4:5").toString());
    assertEquals(2, noEquals.exitCode());
    assertTrue(noEquals.err().contains("a.conf:1: expected key = value, got 'listen 1.2.3.4:5'"),
        noEquals.err());
    Outcome twice = run(Map.of(), "--config",
        file("b.conf", "listen = a:1", "listen = b:2").toString());
    assertTrue(twice.err().contains("b.conf:2: 'listen' is given again (first on line 1)"),
        twice.err());
  }

  @Test
  void badValueFromFileNamesOptionValueAndWhereItWasSet() throws IOException {
    Path conf = file("d.conf", "host-id = h1", "liveness-timeout = ten");
    Outcome outcome = run(Map.of(), "--config", conf.toString());
    assertEquals(2, outcome.exitCode());
    assertTrue(outcome.err().contains("--liveness-timeout was set by " + conf + ":2"),
        outcome.err());
    assertTrue(outcome.err().contains("Invalid value for option '--liveness-timeout': 'ten'"),
        outcome.err());
  }

  @Test
  void badValueFromEnvironmentNamesTheVariable() {
    Outcome outcome = run(Map.of("SERVICEFARM_LIVENESS_TIMEOUT", "soon"), "--host-id", "h1");
    assertEquals(2, outcome.exitCode());
    assertTrue(outcome.err().contains("was set by env SERVICEFARM_LIVENESS_TIMEOUT"),
        outcome.err());
  }

  @Test
  void printConfigWorksWithoutARequiredOptionAndShowsItUnset() {
    Outcome outcome = run(Map.of(), "--print-config");
    assertEquals(0, outcome.exitCode(), outcome.err());
    assertTrue(outcome.out().contains("# not set\n#host-id =\n"), outcome.out());
  }

  @Test
  void printConfigRedactsSecretsButShowsKeyFilePaths() {
    Outcome outcome = run(Map.of("SERVICEFARM_API_TOKEN", "sf_secret123"), "--print-config",
        "--database-url", "jdbc:postgresql://db:5432/farm?user=farm&password=hunter2&ssl=true",
        "--tls-key", "/etc/servicefarm/pki/agent-key.pem",
        "--trusted-key", "/etc/servicefarm/a.pub,/etc/servicefarm/b.pub");
    String out = outcome.out();
    assertFalse(out.contains("sf_secret123"), out);
    assertFalse(out.contains("hunter2"), out);
    assertTrue(out.contains("api-token = <redacted>"), out);
    assertTrue(out.contains(
        "database-url = jdbc:postgresql://db:5432/farm?user=farm&password=<redacted>&ssl=true"),
        out);
    assertTrue(out.contains("tls-key = /etc/servicefarm/pki/agent-key.pem"), out);
    assertTrue(out.contains("trusted-key = /etc/servicefarm/a.pub,/etc/servicefarm/b.pub\n"),
        out);
  }

  @Test
  void printedConfigReadsBackAsAConfigFileWithTheSameValues() throws IOException {
    Outcome first = run(Map.of("SERVICEFARM_HOST_ID", "h7"), "--print-config", "--insecure",
        "--liveness-timeout", "42", "--trusted-key", "/etc/a.pub", "--trusted-key", "/etc/b.pub");
    Path pasted = Files.writeString(dir.resolve("pasted.conf"), first.out());
    Outcome second = run(Map.of(), "--config", pasted.toString());
    assertEquals(0, second.exitCode(), second.err());
    assertEquals("h7", second.daemon().hostId);
    assertTrue(second.daemon().insecure);
    assertEquals(42, second.daemon().livenessTimeout);
    assertEquals(java.util.List.of(Path.of("/etc/a.pub"), Path.of("/etc/b.pub")),
        second.daemon().trustedKeys);
  }
}
