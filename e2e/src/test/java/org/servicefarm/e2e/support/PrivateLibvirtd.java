package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A libvirtd of a test's own, so the test may stop and start it without touching the machine's:
 * a session daemon run as the unprivileged {@code libvirt-qemu} user, with its sockets, state and
 * configuration in a directory of its own. Its guests (QEMU as that user, TCG, user networking)
 * outlive it as they would the system daemon. Agents that use it run as the same user, so the
 * QEMU it starts can write the disks they make.
 */
public final class PrivateLibvirtd implements AutoCloseable {
  public static final String USER = "libvirt-qemu";

  private final Path dir;
  private Process daemon;

  public PrivateLibvirtd(Path dir) throws IOException, InterruptedException {
    this.dir = dir;
    for (String sub : List.of("run", "config", "cache")) {
      Files.createDirectories(dir.resolve(sub));
    }
    chownToUser(dir);
  }

  /** The URI agents and virsh reach this daemon at. */
  public String uri() {
    return "qemu:///session?socket=" + dir.resolve("run/libvirt/libvirt-sock");
  }

  /** Runs a command as the daemon's user: {@code setpriv} execs it, so its pid is the command's. */
  public static List<String> asUser() {
    return List.of("setpriv", "--reuid=" + USER, "--regid=kvm", "--init-groups");
  }

  /** Gives the user a directory (and what is in it), e.g. an agent's state directory. */
  public static void chownToUser(Path path) throws IOException, InterruptedException {
    Files.createDirectories(path);
    if (RealGuests.run("chown", "-R", USER + ":kvm", path.toString()) != 0) {
      throw new IOException("cannot give " + path + " to " + USER);
    }
  }

  public void start() throws IOException, InterruptedException {
    List<String> command = new java.util.ArrayList<>(asUser());
    command.addAll(List.of("libvirtd", "--timeout", "0"));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("libvirtd.log").toFile()));
    builder.environment().putAll(Map.of("HOME", dir.toString(),
        "XDG_RUNTIME_DIR", dir.resolve("run").toString(),
        "XDG_CONFIG_HOME", dir.resolve("config").toString(),
        "XDG_CACHE_HOME", dir.resolve("cache").toString()));
    daemon = builder.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (RealGuests.run("virsh", "-q", "-c", uri(), "version") != 0) {
      if (!daemon.isAlive() || System.nanoTime() > deadline) {
        throw new IOException("the private libvirtd did not answer at " + uri() + "; its log: "
            + dir.resolve("libvirtd.log"));
      }
      Thread.sleep(200);
    }
  }

  /** SIGTERM, as a service manager stops it; its guests keep running. */
  public void stop() throws InterruptedException {
    if (daemon != null && daemon.isAlive()) {
      daemon.destroy();
      if (!daemon.waitFor(30, TimeUnit.SECONDS)) {
        daemon.destroyForcibly();
        daemon.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  @Override
  public void close() {
    try {
      stop();
    } catch (InterruptedException e) {
      daemon.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
