package org.servicefarm.e2e.release;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.e2e.support.CommandRun;
import org.servicefarm.e2e.support.FarmJars;
import org.servicefarm.e2e.support.RealGuests;

/**
 * The Debian packages ./farm dist builds (dist/debian/build-debs.sh), installed with dpkg into a
 * fresh root (a minimal tree: the dpkg database and the programs the maintainer scripts run),
 * then purged: the jars, units and conffiles land where they belong with safe permissions, the
 * controller's account gets its subordinate ids, systemd accepts the installed units, and
 * purging leaves none of the packages' files behind.
 */
class DebianPackagesTest {
  private static final List<String> PACKAGES =
      List.of("servicefarm-controller", "servicefarm-agent", "servicefarm-gateway", "farmctl");

  @TempDir
  Path dir;

  @Test
  void packagesInstallIntoAFreshRootAndPurgeCleanly() throws Exception {
    requireRootAndTools();
    Path debs = dir.resolve("debs");
    CommandRun build = CommandRun.of(dir, List.of("bash",
        FarmJars.root().resolve("dist/debian/build-debs.sh").toString(), "0.1.0-SNAPSHOT",
        debs.toString()));
    assertEquals(0, build.exitCode(), build.toString());
    List<String> files = new ArrayList<>();
    for (String name : PACKAGES) {
      Path deb = debs.resolve(name + "_0.1.0~SNAPSHOT_all.deb");
      assertTrue(Files.exists(deb), build.toString());
      files.add(deb.toString());
    }

    Path root = dir.resolve("root");
    Path script = dir.resolve("debian-test-root.sh");
    try (InputStream in = DebianPackagesTest.class.getResourceAsStream("/debian-test-root.sh")) {
      Files.copy(in, script);
    }
    CommandRun tree = CommandRun.of(dir, List.of("bash", script.toString(), root.toString()));
    assertEquals(0, tree.exitCode(), tree.toString());

    // Java, libvirt and the rest are not in the tree: dependencies are not what is tested here.
    List<String> install = new ArrayList<>(List.of("dpkg", "--root=" + root, "--force-depends",
        "--install"));
    install.addAll(files);
    CommandRun installed = CommandRun.of(dir, install);
    assertEquals(0, installed.exitCode(), installed.toString());
    for (String name : PACKAGES) {
      CommandRun status = CommandRun.of(dir, List.of("dpkg-query", "--root=" + root, "-W",
          "-f=${Status}", name));
      assertEquals("install ok installed", status.out(), status.toString());
    }

    checkFiles(root);
    checkAccount(root);
    CommandRun verify = CommandRun.of(dir, List.of("systemd-analyze", "verify",
        root.resolve("lib/systemd/system/servicefarm-controller.service").toString(),
        root.resolve("lib/systemd/system/servicefarm-agent.service").toString(),
        root.resolve("lib/systemd/system/servicefarm-gateway.service").toString()));
    assertEquals(0, verify.exitCode(), verify.toString());
    assertEquals("", verify.err(), verify.toString());

    List<String> purge = new ArrayList<>(List.of("dpkg", "--root=" + root, "--purge"));
    purge.addAll(PACKAGES);
    CommandRun purged = CommandRun.of(dir, purge);
    assertEquals(0, purged.exitCode(), purged.toString());
    assertFalse(purged.err().contains("error"), purged.toString());
    try (Stream<Path> left = Files.walk(root)) {
      List<String> leftovers = left.map(p -> "/" + root.relativize(p))
          .filter(p -> p.contains("servicefarm") || p.endsWith("/farmctl"))
          .filter(p -> !p.startsWith("/var/lib/dpkg/")).toList();
      assertEquals(List.of(), leftovers, "purged packages left files behind");
    }
    // The account stays (its files, if any, are the farm's), as the postrm says.
    assertTrue(Files.readString(root.resolve("etc/passwd")).contains("servicefarm:"));
  }

  @Test
  void packagingScriptsPassShellcheck() throws Exception {
    if (!CommandRun.onPath("shellcheck")) {
      String why = "shellcheck not installed (./farm test installs it; Debian: apt-get install"
          + " shellcheck)";
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError(why + ", and CI must run this check");
      }
      System.err.println("WARNING: " + why + ": SKIPPED");
      Assumptions.abort(why + ": SKIPPED");
    }
    Path debian = FarmJars.root().resolve("dist/debian");
    List<String> command = new ArrayList<>(List.of("shellcheck", "--shell=sh",
        debian.resolve("farmctl/files/usr/bin/farmctl").toString()));
    for (String name : List.of("servicefarm-controller", "servicefarm-agent",
        "servicefarm-gateway")) {
      for (String script : List.of("postinst", "prerm", "postrm")) {
        command.add(debian.resolve(name).resolve(script).toString());
      }
    }
    CommandRun maintainerScripts = CommandRun.of(dir, command);
    assertEquals(0, maintainerScripts.exitCode(), maintainerScripts.toString());
    Path testRoot = dir.resolve("debian-test-root.sh");
    try (InputStream in = DebianPackagesTest.class.getResourceAsStream("/debian-test-root.sh")) {
      Files.copy(in, testRoot);
    }
    CommandRun bash = CommandRun.of(dir, List.of("shellcheck",
        debian.resolve("build-debs.sh").toString(), testRoot.toString()));
    assertEquals(0, bash.exitCode(), bash.toString());
  }

  private static void checkFiles(Path root) throws IOException {
    for (String jar : List.of("servicefarm-controller.jar", "servicefarm-agent.jar",
        "servicefarm-gateway.jar", "farmctl.jar")) {
      assertMode(root.resolve("usr/share/servicefarm/" + jar), "rw-r--r--");
    }
    for (String daemon : List.of("controller", "agent")) {
      Path unit = root.resolve("lib/systemd/system/servicefarm-" + daemon + ".service");
      assertMode(unit, "rw-r--r--");
      assertTrue(Files.readString(unit).contains("\nExecStart=/usr/bin/java -jar"
          + " /usr/share/servicefarm/servicefarm-" + daemon + ".jar --config /etc/servicefarm/"
          + daemon + ".conf\n"), unit + " runs the packaged jar");
      Path config = root.resolve("etc/servicefarm/" + daemon + ".conf");
      assertMode(config, "rw-r--r--");
      // The tarball's example config, its jar paths moved where the package puts the jars.
      assertEquals(Files.readString(FarmJars.root().resolve("dist/config/" + daemon + ".conf"))
          .replace("/opt/servicefarm/", "/usr/share/servicefarm/"), Files.readString(config));
    }
    Path gatewayUnit = root.resolve("lib/systemd/system/servicefarm-gateway.service");
    assertMode(gatewayUnit, "rw-r--r--");
    assertTrue(Files.readString(gatewayUnit).contains(
        "\nExecStart=/usr/bin/java -jar /usr/share/servicefarm/servicefarm-gateway.jar"),
        gatewayUnit + " runs the packaged jar");
    assertMode(root.resolve("usr/bin/farmctl"), "rwxr-xr-x");
    assertTrue(Files.readString(root.resolve("usr/bin/farmctl"))
        .contains("exec /usr/share/servicefarm/farmctl "));
    assertMode(root.resolve("usr/share/servicefarm/farmctl"), "rwxr-xr-x");
    assertTrue(Files.readString(root.resolve("var/lib/dpkg/info/servicefarm-controller.conffiles"))
        .contains("/etc/servicefarm/controller.conf"));
    // Nothing a package installed may be changed by another account.
    try (Stream<Path> all = Files.walk(root.resolve("usr/share/servicefarm"))) {
      for (Path p : all.toList()) {
        Set<PosixFilePermission> mode = Files.getPosixFilePermissions(p);
        assertFalse(mode.contains(PosixFilePermission.GROUP_WRITE)
            || mode.contains(PosixFilePermission.OTHERS_WRITE), p + " is writable by others");
        assertEquals("root", Files.getOwner(p).getName(), p.toString());
      }
    }
  }

  private static void checkAccount(Path root) throws IOException {
    String account = Files.readAllLines(root.resolve("etc/passwd")).stream()
        .filter(l -> l.startsWith("servicefarm:")).findFirst()
        .orElseThrow(() -> new AssertionError("no servicefarm account in the root's /etc/passwd"));
    String[] fields = account.split(":");
    assertTrue(Integer.parseInt(fields[2]) < 1000, "a system account: " + account);
    assertEquals("/var/lib/servicefarm", fields[5], account);
    assertEquals("/usr/sbin/nologin", fields[6], account);
    for (String ids : List.of("etc/subuid", "etc/subgid")) {
      assertTrue(Files.readAllLines(root.resolve(ids)).stream()
          .anyMatch(l -> l.matches("servicefarm:\\d+:65536")), ids + " gives it 65536 ids");
    }
  }

  private static void assertMode(Path file, String mode) throws IOException {
    assertTrue(Files.isRegularFile(file), file + " is missing");
    assertEquals(mode, java.nio.file.attribute.PosixFilePermissions.toString(
        Files.getPosixFilePermissions(file)), file.toString());
  }

  /** Root (dpkg --root runs the maintainer scripts chrooted) and the tools; CI must have both. */
  private static void requireRootAndTools() {
    RealGuests.requireRoot("installing packages with dpkg --root (chroot, mknod)");
    for (String tool : List.of("dpkg", "dpkg-deb", "dpkg-query", "ldd", "systemd-analyze",
        "useradd", "newuidmap")) {
      if (!CommandRun.onPath(tool)) {
        String why = tool + " is not installed: the Debian packages' test is SKIPPED"
            + " (./farm test installs dpkg, systemd, passwd and uidmap)";
        if ("true".equals(System.getenv("CI"))) {
          throw new AssertionError(why.replace("SKIPPED", "cannot run, and CI must run it"));
        }
        System.err.println("WARNING: " + why);
        Assumptions.abort(why);
      }
    }
  }
}
