package org.servicefarm.controller.images;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Whom an image build's tools run as, and how they get root over the image's files.
 *
 * <p>A root controller runs them as itself. Any other account runs the steps that need root
 * (mmdebstrap, still in its root mode; mkfs.ext4 -d; removing a build) in a user namespace of
 * their own, made by util-linux {@code unshare} with the setuid newuidmap and newgidmap: the
 * account itself is root there, and its first 65535 subordinate ids (/etc/subuid, /etc/subgid)
 * are ids 1 to 65535. So the tree stays in the controller's private build directory (the
 * namespace's root is the directory's owner), what the packages give to other users (_apt, the
 * shadow group) lands on the account's subordinate ids on the host, where no other account can
 * reach it, and mkfs.ext4, run with the same mapping, records the owners the guest expects: root
 * for what the account owns. The init the controller writes into the tree is therefore root's in
 * the image. A namespace's mounts (mmdebstrap's /dev, /proc, /sys) end with it, so such a build
 * never leaves a mount behind.
 */
public final class BuildAccount {
  /** Ids 1..65535 of the namespace: every id a Debian package gives out (nobody is 65534). */
  static final long SUBORDINATE_IDS = 65535;
  private static final long TRIAL_SECONDS = 20;
  private static BuildAccount thisProcess;

  private final String account;
  private final boolean root;
  private final long subuid;
  private final long subgid;
  private final String problem;

  private BuildAccount(String account, boolean root, long subuid, long subgid, String problem) {
    this.account = account;
    this.root = root;
    this.subuid = subuid;
    this.subgid = subgid;
    this.problem = problem;
  }

  /** Tries a command and answers null when it ran, or what it said when it failed. */
  @FunctionalInterface
  interface Trial {
    String failureOf(List<String> argv) throws IOException, InterruptedException;
  }

  /** The controller's own account, found out once (the probe starts a process). */
  public static synchronized BuildAccount ofThisProcess() {
    if (thisProcess == null) {
      String name = System.getProperty("user.name");
      thisProcess = detect(name, "root".equals(name) ? 0 : currentUid(), Path.of("/proc/sys"),
          Path.of("/etc/subuid"), Path.of("/etc/subgid"), BuildAccount::run);
    }
    return thisProcess;
  }

  /**
   * What {@code account} can do.
   *
   * @param procSys where the kernel's settings are (/proc/sys)
   * @param trial runs the namespace the builds would use, once, to prove it can be made
   */
  static BuildAccount detect(String account, long uid, Path procSys, Path subuidFile,
      Path subgidFile, Trial trial) {
    if (uid == 0) {
      return new BuildAccount(account, true, 0, 0, null);
    }
    String forbidden = kernelForbids(procSys);
    if (forbidden != null) {
      return unable(account, forbidden);
    }
    Optional<Long> subuid;
    Optional<Long> subgid;
    try {
      subuid = firstRange(subuidFile, account, uid);
      subgid = firstRange(subgidFile, account, uid);
    } catch (IOException e) {
      return unable(account, "cannot read " + subuidFile + " or " + subgidFile + ": " + e);
    }
    if (subuid.isEmpty() || subgid.isEmpty()) {
      Path missing = subuid.isEmpty() ? subuidFile : subgidFile;
      return unable(account, "account " + account + " has no range of at least "
          + SUBORDINATE_IDS + " subordinate ids in " + missing + " (add one, e.g. usermod"
          + " --add-subuids 100000-165535 --add-subgids 100000-165535 " + account + ")");
    }
    BuildAccount candidate = new BuildAccount(account, false, subuid.get(), subgid.get(), null);
    try {
      String failure = trial.failureOf(candidate.privileged(List.of("true")));
      if (failure != null) {
        return unable(account, "cannot make a user namespace with the subordinate ids of "
            + account + " (" + failure.strip() + "); check the sysctls"
            + " kernel.unprivileged_userns_clone, user.max_user_namespaces and"
            + " kernel.apparmor_restrict_unprivileged_userns, that newuidmap and newgidmap"
            + " (package uidmap) are installed, and that the service may create user namespaces"
            + " and run them (systemd: RestrictNamespaces=, NoNewPrivileges=)");
      }
    } catch (IOException e) {
      return unable(account, "cannot run unshare (package util-linux): " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return unable(account, "interrupted while trying a user namespace");
    }
    return candidate;
  }

  private static BuildAccount unable(String account, String problem) {
    return new BuildAccount(account, false, 0, 0, "the controller runs as " + account
        + ", not root, and cannot compose images from packages: " + problem
        + "; register or upload images instead");
  }

  /**
   * The kernel setting that forbids unprivileged user namespaces outright, named, or null.
   * (AppArmor's kernel.apparmor_restrict_unprivileged_userns forbids them only to programs
   * without a profile that allows them, so it is named only when the trial fails.)
   */
  private static String kernelForbids(Path procSys) {
    for (String setting : List.of("kernel.unprivileged_userns_clone",
        "user.max_user_namespaces")) {
      Path file = procSys.resolve(setting.replace('.', '/'));
      String value;
      try {
        value = Files.exists(file) ? Files.readString(file).strip() : null;
      } catch (IOException e) {
        continue; // unreadable: the trial namespace will tell
      }
      if ("0".equals(value)) {
        return "the kernel forbids unprivileged user namespaces (sysctl " + setting
            + " = 0; set it to " + (setting.startsWith("user.") ? "a positive number, e.g. 15000"
            : "1") + " in /etc/sysctl.d/ and run sysctl --system)";
      }
    }
    return null;
  }

  /** The start of the account's first range of at least SUBORDINATE_IDS ids. */
  private static Optional<Long> firstRange(Path file, String account, long uid)
      throws IOException {
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      String[] fields = line.strip().split(":");
      if (fields.length != 3
          || !(fields[0].equals(account) || fields[0].equals(Long.toString(uid)))) {
        continue;
      }
      try {
        long start = Long.parseLong(fields[1]);
        long count = Long.parseLong(fields[2]);
        if (count >= SUBORDINATE_IDS) {
          return Optional.of(start);
        }
      } catch (NumberFormatException malformed) {
        continue; // newuidmap ignores such a line too
      }
    }
    return Optional.empty();
  }

  public boolean canCompose() {
    return problem == null;
  }

  /** Why this account cannot compose, naming what to change; empty when it can. */
  public Optional<String> problem() {
    return Optional.ofNullable(problem);
  }

  /** True when the controller is root and runs the tools as itself. */
  boolean asRoot() {
    return root;
  }

  /** True when the root steps run in a user namespace rather than as the controller itself. */
  boolean inUserNamespace() {
    return !root && problem == null;
  }

  /** How builds run, for the log at start. */
  public String describe() {
    if (root) {
      return "images are composed as root";
    }
    if (problem != null) {
      return problem;
    }
    return "images are composed without root: as " + account + ", root of a user namespace"
        + " whose ids 1-" + SUBORDINATE_IDS + " are its subordinate uids from " + subuid
        + " and gids from " + subgid;
  }

  /** The argv that runs {@code argv} with root over the image's files. */
  /**
   * As {@link #privileged}, and always in mount and PID namespaces of its own, also for a root
   * controller: for a step that mounts (/proc, /dev's nodes, the package cache into a tree), so
   * its mounts and processes end with it and never show on the host.
   */
  List<String> isolated(List<String> argv) {
    if (!root) {
      return privileged(argv);
    }
    List<String> wrapped = new ArrayList<>(List.of("unshare", "--mount", "--propagation",
        "private", "--pid", "--fork", "--kill-child", "--"));
    wrapped.addAll(argv);
    return wrapped;
  }

  List<String> privileged(List<String> argv) {
    if (root) {
      return argv;
    }
    List<String> wrapped = new ArrayList<>(List.of("unshare", "--map-root-user",
        "--map-users=" + subuid + ",1," + SUBORDINATE_IDS,
        "--map-groups=" + subgid + ",1," + SUBORDINATE_IDS,
        // Its own mounts, ended with it, and its own processes, all killed when it is.
        "--mount", "--pid", "--fork", "--kill-child", "--"));
    wrapped.addAll(argv);
    return wrapped;
  }

  private static long currentUid() {
    try {
      // Followed: the link /proc/self is root's, the directory it names this process's.
      return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).longValue();
    } catch (IOException | UnsupportedOperationException e) {
      return -1; // matched by name in /etc/subuid then
    }
  }

  private static String run(List<String> argv) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(argv);
    try {
      command.set(0, ToolRunner.locate(argv.get(0)));
    } catch (ToolRunner.ToolFailure e) {
      return e.getMessage();
    }
    Path output = Files.createTempFile("servicefarm-userns", ".out");
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(output.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
      if (!process.waitFor(TRIAL_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        return "unshare did not finish within " + TRIAL_SECONDS + " s";
      }
      return process.exitValue() == 0 ? null : "exit status " + process.exitValue() + ": "
          + Files.readString(output, StandardCharsets.UTF_8);
    } finally {
      Files.deleteIfExists(output);
    }
  }
}
