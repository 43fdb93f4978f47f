package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Linux network namespace joined to this machine by a veth pair, so a process started inside it
 * (through {@link #execPrefix()}) reaches the host only over that link, and a test can cut the
 * link and heal it. Host side {@code 10.231.X.Y+1/30}, namespace side {@code 10.231.X.Y+2/30}.
 *
 * <p>Names carry this JVM's pid ({@code PREFIX-PID}, veths {@code PREFIXPIDh} and
 * {@code PREFIXPIDn}), so a run first removes what an earlier run that died left behind (its pid
 * no longer alive) without touching a namespace of a run still going. Needs root and iproute2.
 */
public final class NetworkNamespace implements AutoCloseable {
  private static final long COMMAND_TIMEOUT_SECONDS = 20;

  private final String name;
  private final String hostVeth;
  private final String namespaceVeth;
  private final String hostAddress;
  private final String namespaceAddress;
  private boolean cut;

  private NetworkNamespace(String prefix, long pid) {
    this.name = prefix + "-" + pid;
    this.hostVeth = prefix + pid + "h";
    this.namespaceVeth = prefix + pid + "n";
    // A /30 of 10.231.0.0/16 chosen by pid: runs alive at the same time have different pids.
    int block = (int) (pid % 16384);
    String net = "10.231." + (block / 64) + ".";
    int base = (block % 64) * 4;
    this.hostAddress = net + (base + 1);
    this.namespaceAddress = net + (base + 2);
  }

  /**
   * Creates the namespace and its link, up, after removing leftovers of dead runs with the same
   * prefix.
   *
   * @param prefix up to 6 lowercase letters: interface names are at most 15 characters
   * @throws IOException when a command fails, naming it with its stderr (no iproute2, no
   *     CAP_SYS_ADMIN/CAP_NET_ADMIN, no /run/netns)
   */
  public static NetworkNamespace create(String prefix) throws IOException, InterruptedException {
    if (!prefix.matches("[a-z]{1,6}")) {
      throw new IllegalArgumentException("prefix must be 1 to 6 lowercase letters: " + prefix);
    }
    removeLeftovers(prefix);
    NetworkNamespace ns = new NetworkNamespace(prefix, ProcessHandle.current().pid());
    try {
      ns.build();
      return ns;
    } catch (IOException | RuntimeException e) {
      ns.close();
      throw e;
    }
  }

  private void build() throws IOException, InterruptedException {
    ip("netns", "add", name);
    ip("link", "add", hostVeth, "type", "veth", "peer", "name", namespaceVeth);
    ip("link", "set", namespaceVeth, "netns", name);
    ip("addr", "add", hostAddress + "/30", "dev", hostVeth);
    ip("link", "set", hostVeth, "up");
    ip("-n", name, "addr", "add", namespaceAddress + "/30", "dev", namespaceVeth);
    ip("-n", name, "link", "set", namespaceVeth, "up");
    // The JVM inside binds and resolves loopback too; a new namespace has lo down.
    ip("-n", name, "link", "set", "lo", "up");
  }

  String name() {
    return name;
  }

  /** This machine's end of the link: what a process inside the namespace dials. */
  public String hostAddress() {
    return hostAddress;
  }

  public String namespaceAddress() {
    return namespaceAddress;
  }

  /** Runs a command inside the namespace: put before it. */
  public List<String> execPrefix() {
    return List.of("ip", "netns", "exec", name);
  }

  /**
   * Partitions the namespace from the host: the host end goes down, so nothing passes either way.
   * Established TCP connections are not told, they just stop hearing from each other; new
   * connections from inside fail with "no route to host" once ARP gives up (about 3 s).
   */
  public void cut() throws IOException, InterruptedException {
    ip("link", "set", hostVeth, "down");
    cut = true;
  }

  /** Brings the host end up again; the connected route comes back with it. */
  public void heal() throws IOException, InterruptedException {
    ip("link", "set", hostVeth, "up");
    cut = false;
  }

  boolean isCut() {
    return cut;
  }

  /**
   * Deletes the namespace and the veth pair (deleting one end removes both). Runs every step even
   * when one fails, and reports failures on stderr: clean-up must not hide the test's own failure.
   */
  @Override
  public void close() {
    deleteQuietly(List.of("link", "del", hostVeth), "Cannot find device");
    deleteQuietly(List.of("netns", "del", name), "No such file");
  }

  private static void deleteQuietly(List<String> args, String absentMarker) {
    try {
      run(args);
    } catch (IOException e) {
      if (!e.getMessage().contains(absentMarker)) {
        System.err.println("network namespace clean-up: " + e.getMessage());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      System.err.println("network namespace clean-up interrupted at ip " + String.join(" ", args));
    }
  }

  /** Deletes namespaces and host-side veths named for this prefix whose run is no longer alive. */
  private static void removeLeftovers(String prefix) throws IOException, InterruptedException {
    Pattern netns = Pattern.compile("^" + prefix + "-(\\d+)\\b", Pattern.MULTILINE);
    Matcher m = netns.matcher(run(List.of("netns", "list")));
    List<Long> dead = new ArrayList<>();
    while (m.find()) {
      long pid = Long.parseLong(m.group(1));
      if (!alive(pid)) {
        dead.add(pid);
      }
    }
    // A veth whose namespace is gone already lives on the host; find those too.
    Pattern link = Pattern.compile("^\\d+: " + prefix + "(\\d+)h[@:]", Pattern.MULTILINE);
    Matcher l = link.matcher(run(List.of("-o", "link", "show")));
    while (l.find()) {
      long pid = Long.parseLong(l.group(1));
      if (!alive(pid) && !dead.contains(pid)) {
        dead.add(pid);
      }
    }
    for (long pid : dead) {
      System.err.println("removing network namespace " + prefix + "-" + pid + " and its veth"
          + " pair, left behind by an earlier run");
      new NetworkNamespace(prefix, pid).close();
    }
  }

  private static boolean alive(long pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  private static void ip(String... args) throws IOException, InterruptedException {
    run(List.of(args));
  }

  /** Runs {@code ip ARGS}; returns its stdout, or fails with the command and its stderr. */
  private static String run(List<String> args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add("ip");
    command.addAll(args);
    Process p;
    try {
      p = new ProcessBuilder(command).redirectErrorStream(false).start();
    } catch (IOException e) {
      throw new IOException("cannot run " + String.join(" ", command)
          + " (is iproute2 installed?): " + e.getMessage(), e);
    }
    p.getOutputStream().close();
    // stdout may be long (every link of the host); stderr is one message, read after it.
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (!p.waitFor(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException(String.join(" ", command) + " did not finish in "
          + COMMAND_TIMEOUT_SECONDS + " s");
    }
    if (p.exitValue() != 0) {
      throw new IOException(String.join(" ", command) + " failed (exit " + p.exitValue() + "): "
          + Optional.of(err).filter(s -> !s.isEmpty()).orElse("no message"));
    }
    return out;
  }
}
