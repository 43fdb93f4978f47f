package org.servicefarm.e2e.release;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.e2e.support.CommandRun;
import org.servicefarm.e2e.support.FarmJars;

/** dist/install-host.sh into a staging root, and the release tarball that carries it. */
class InstallHostScriptTest {
  @TempDir Path dir;

  private static Path script() {
    return FarmJars.root().resolve("dist/install-host.sh");
  }

  private CommandRun install(String... flags) throws Exception {
    List<String> command = new ArrayList<>(List.of("bash", script().toString(),
        "--agent-jar", FarmJars.agent().toString(), "--farmctl-jar", FarmJars.farmctl().toString(),
        "--no-start"));
    command.addAll(List.of(flags));
    return CommandRun.of(dir, command);
  }

  @Test
  void installsUnitConfigCertificateAndJarThatTheAgentAccepts() throws Exception {
    Path ca = dir.resolve("pki");
    CommandRun init = CommandRun.java(dir, FarmJars.farmctl(), "pki", "init", "--dir",
        ca.toString());
    assertEquals(0, init.exitCode(), init.toString());
    Path root = Files.createDirectory(dir.resolve("root"));

    CommandRun run = install("--root", root.toString(), "--host-id", "host-7",
        "--controller", "10.0.0.1:50051,10.0.0.2:50051", "--address", "192.0.2.7",
        "--ca-dir", ca.toString());
    assertEquals(0, run.exitCode(), run.toString());

    assertEquals(Files.readString(FarmJars.root().resolve(
            "dist/systemd/servicefarm-agent.service")),
        Files.readString(root.resolve("etc/systemd/system/servicefarm-agent.service")));
    assertEquals(Files.size(FarmJars.agent()),
        Files.size(root.resolve("opt/servicefarm/servicefarm-agent.jar")));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(
        root.resolve("etc/servicefarm/pki/agent-key.pem"))));
    assertTrue(Files.readString(root.resolve("etc/servicefarm/pki/agent.pem"))
        .startsWith("-----BEGIN CERTIFICATE-----"));

    Path conf = root.resolve("etc/servicefarm/agent.conf");
    CommandRun printed = CommandRun.java(dir, FarmJars.agent(), "--config", conf.toString(),
        "--print-config");
    assertEquals(0, printed.exitCode(), printed.toString());
    for (String setting : List.of("host-id = host-7",
        "controller = 10.0.0.1:50051,10.0.0.2:50051", "address = 192.0.2.7",
        "libvirt-uri = qemu:///system", "state-dir = /var/lib/servicefarm/agent",
        "tls-ca = /etc/servicefarm/pki/ca.pem", "tls-cert = /etc/servicefarm/pki/agent.pem",
        "tls-key = /etc/servicefarm/pki/agent-key.pem")) {
      assertTrue(printed.out().contains("\n" + setting + "\n"), setting + " in\n" + printed);
    }
  }

  @Test
  void badValuesAreRefusedByNameBeforeAnythingIsWritten() throws Exception {
    Path root = Files.createDirectory(dir.resolve("root"));
    CommandRun badHost = install("--root", root.toString(), "--host-id", "Host_1",
        "--controller", "10.0.0.1:50051", "--address", "192.0.2.7", "--insecure");
    assertEquals(2, badHost.exitCode(), badHost.toString());
    assertTrue(badHost.err().contains("--host-id 'Host_1' must match"), badHost.toString());
    CommandRun badController = install("--root", root.toString(), "--host-id", "h1",
        "--controller", "10.0.0.1", "--address", "192.0.2.7", "--insecure");
    assertEquals(2, badController.exitCode(), badController.toString());
    assertTrue(badController.err().contains("'10.0.0.1' is not HOST:PORT"),
        badController.toString());
    CommandRun noCertificate = install("--root", root.toString(), "--host-id", "h1",
        "--controller", "10.0.0.1:50051", "--address", "192.0.2.7");
    assertEquals(2, noCertificate.exitCode(), noCertificate.toString());
    assertTrue(noCertificate.err().contains("give exactly one of"), noCertificate.toString());
    try (var written = Files.list(root)) {
      assertEquals(0, written.count(), "a refused install wrote into the root");
    }
  }

  @Test
  void helpNamesEveryFlag() throws Exception {
    CommandRun help = CommandRun.of(dir, List.of("bash", script().toString(), "--help"));
    assertEquals(0, help.exitCode(), help.toString());
    for (String flag : List.of("--host-id", "--controller", "--address", "--ca-dir",
        "--tls-cert", "--insecure", "--root", "--no-start", "--skip-packages")) {
      assertTrue(help.out().contains(flag), flag + " missing from\n" + help.out());
    }
  }

  @Test
  void scriptsPassBashAndShellcheck() throws Exception {
    Path farm = FarmJars.root().resolve("farm");
    Path farmctl = FarmJars.root().resolve("cli/farmctl");
    for (Path shell : List.of(script(), farm, farmctl)) {
      CommandRun syntax = CommandRun.of(dir, List.of("bash", "-n", shell.toString()));
      assertEquals(0, syntax.exitCode(), syntax.toString());
    }
    if (!CommandRun.onPath("shellcheck")) {
      String why = "shellcheck not installed (./farm test installs it; Debian: apt-get install"
          + " shellcheck)";
      // CI runs ./farm test, which installs shellcheck: a missing one there is a broken setup.
      assertNotEquals("true", System.getenv("CI"), why + ", and CI must run this check");
      Assumptions.abort(why + ": SKIPPED");
    }
    CommandRun check = CommandRun.of(dir, List.of("shellcheck", script().toString(),
        farm.toString(), farmctl.toString()));
    assertEquals(0, check.exitCode(), check.toString());
  }

  @Test
  void releaseTarballHoldsTheJarsUnitsConfigsAndScript() throws Exception {
    Path tarball;
    try (var built = Files.list(FarmJars.root().resolve("dist/target"))) {
      tarball = built.filter(p -> p.getFileName().toString().matches("servicefarm-.*\\.tar\\.gz"))
          .findFirst().orElseThrow(() -> new AssertionError("no dist/target/servicefarm-*.tar.gz:"
              + " the dist module must be built before e2e"));
    }
    CommandRun listing = CommandRun.of(dir, List.of("tar", "tzvf", tarball.toString()));
    assertEquals(0, listing.exitCode(), listing.toString());
    String top = tarball.getFileName().toString().replace(".tar.gz", "") + "/";
    for (String file : List.of("servicefarm-controller.jar", "servicefarm-agent.jar",
        "farmctl.jar", "systemd/servicefarm-controller.service",
        "systemd/servicefarm-agent.service", "config/controller.conf", "config/agent.conf")) {
      assertTrue(listing.out().contains(" " + top + file + "\n"), file + " missing from\n"
          + listing.out());
    }
    for (String script : List.of("install-host.sh", "controller-account.sh", "farmctl")) {
      assertTrue(listing.out().matches("(?s).*-rwxr-xr-x [^\n]* " + top + script + "\n.*"),
          script + " missing or not executable in\n" + listing.out());
    }
  }
}
