package org.servicefarm.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class AgentMainTest {

  private record Outcome(int exitCode, String stderr) {}

  private static Outcome run(String... args) {
    StringWriter err = new StringWriter();
    CommandLine commandLine = new CommandLine(new AgentMain());
    commandLine.setErr(new PrintWriter(err));
    return new Outcome(commandLine.execute(args), err.toString());
  }

  @Test
  void hostIdThatIsNotADnsLabelIsRefusedBeforeAnythingStarts() {
    Outcome outcome = run("--host-id", "Host_1", "--libvirt-uri", "test:///default");
    assertEquals(CommandLine.ExitCode.USAGE, outcome.exitCode());
    assertTrue(outcome.stderr().contains("--host-id 'Host_1'"), outcome.stderr());
  }

  @Test
  void plaintextToARemoteControllerNeedsInsecure() {
    Outcome outcome = run("--host-id", "h1", "--libvirt-uri", "test:///default",
        "--controller", "10.0.0.5:50051");
    assertEquals(CommandLine.ExitCode.USAGE, outcome.exitCode());
    assertTrue(outcome.stderr().contains("--controller 10.0.0.5:50051 is not a loopback address;"
        + " plaintext there needs --insecure"), outcome.stderr());
  }

  @Test
  void mutualTlsNeedsAllThreeFilesAndNamesTheMissingOne() {
    Outcome partial = run("--host-id", "h1", "--libvirt-uri", "test:///default",
        "--tls-ca", "/nonexistent/ca.pem");
    assertEquals(CommandLine.ExitCode.USAGE, partial.exitCode());
    assertTrue(partial.stderr().contains("needs all of --tls-ca, --tls-cert and --tls-key"),
        partial.stderr());
    Outcome missing = run("--host-id", "h1", "--libvirt-uri", "test:///default",
        "--tls-ca", "/nonexistent/ca.pem", "--tls-cert", "/nonexistent/a.pem",
        "--tls-key", "/nonexistent/a-key.pem");
    assertEquals(CommandLine.ExitCode.USAGE, missing.exitCode());
    assertTrue(missing.stderr().contains("--tls-ca /nonexistent/ca.pem is not a readable file"),
        missing.stderr());
  }

  @Test
  void badMetricsListenIsRefusedNamingTheValue() {
    Outcome notHostPort = run("--host-id", "h1", "--libvirt-uri", "test:///default",
        "--metrics-listen", "50053");
    assertEquals(CommandLine.ExitCode.USAGE, notHostPort.exitCode());
    assertTrue(notHostPort.stderr().contains("--metrics-listen '50053' must be HOST:PORT"),
        notHostPort.stderr());
    Outcome remote = run("--host-id", "h1", "--libvirt-uri", "test:///default",
        "--metrics-listen", "10.0.0.5:9100");
    assertEquals(CommandLine.ExitCode.USAGE, remote.exitCode());
    assertTrue(remote.stderr().contains("--metrics-listen 10.0.0.5:9100 is not a loopback"
        + " address"), remote.stderr());
  }

  @Test
  void hostIdIsRequired() {
    Outcome outcome = run("--libvirt-uri", "test:///default");
    assertEquals(CommandLine.ExitCode.USAGE, outcome.exitCode());
    assertTrue(outcome.stderr().contains("--host-id"), outcome.stderr());
  }

  @Test
  void upsideDownPortRangeIsRefused() {
    Outcome outcome = run("--host-id", "h1", "--port-range", "30000-20000");
    assertEquals(CommandLine.ExitCode.USAGE, outcome.exitCode());
    assertTrue(outcome.stderr().contains("--port-range"), outcome.stderr());
  }

  @Test
  void unknownAcceleratorIsRefused() {
    Outcome outcome = run("--host-id", "h1", "--accel", "hvf");
    assertEquals(CommandLine.ExitCode.USAGE, outcome.exitCode());
    assertTrue(outcome.stderr().contains("--accel 'hvf' must be auto, kvm or tcg"),
        outcome.stderr());
  }

  @Test
  void forwardBindThatIsNotAnIpv4AddressIsRefused() {
    Outcome outcome = run("--host-id", "h1", "--forward-bind", "127.0.0.1,smb=/");
    assertEquals(CommandLine.ExitCode.USAGE, outcome.exitCode());
    assertTrue(outcome.stderr().contains("--forward-bind"), outcome.stderr());
  }

  @Test
  void hostnameAddressNeedsAForwardBindOnQemuHosts() {
    Outcome outcome = run("--host-id", "h1", "--address", "farm1.example.org");
    assertEquals(CommandLine.ExitCode.USAGE, outcome.exitCode());
    assertTrue(outcome.stderr().contains("pass --forward-bind"), outcome.stderr());
  }
}
