package org.servicefarm.controller.images;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * How mmdebstrap gets the root rights that unpacking packages needs. A controller running as
 * root lets it use them directly (root mode). Any other account composes in unshare mode: inside
 * a user namespace of its own, mapped onto the account's subordinate ids (/etc/subuid and
 * /etc/subgid, through newuidmap), so the controller holds no privilege and the packages'
 * maintainer scripts run as a root that owns nothing outside the namespace.
 *
 * <p>Unshare mode needs the kernel to allow unprivileged user namespaces. {@link #problems}
 * names what is missing, so the controller can say so at start instead of at the first build.
 */
public enum ComposeMode {
  ROOT("root"),
  UNSHARE("unshare");

  private final String flag;

  ComposeMode(String flag) {
    this.flag = flag;
  }

  /** The value of mmdebstrap's --mode. */
  public String flag() {
    return flag;
  }

  /** Root mode for a root controller, unshare mode for any other account. */
  public static ComposeMode forThisProcess() {
    return "root".equals(System.getProperty("user.name")) ? ROOT : UNSHARE;
  }

  /**
   * What keeps this account from composing in unshare mode, each as a sentence naming the setting
   * to change; empty when nothing does (or when the controller is root and needs none of it).
   */
  public static List<String> problems() {
    if (forThisProcess() == ROOT) {
      return List.of();
    }
    return problems(Path.of("/proc/sys"), Path.of("/etc"), System.getProperty("user.name"),
        List.of(Path.of("/usr/bin/newuidmap"), Path.of("/usr/bin/newgidmap")));
  }

  static List<String> problems(Path procSys, Path etc, String user, List<Path> helpers) {
    List<String> problems = new ArrayList<>();
    // Debian's own switch for unprivileged user namespaces (absent on other kernels: allowed).
    if (sysctl(procSys, "kernel/unprivileged_userns_clone").filter("0"::equals).isPresent()) {
      problems.add("the kernel forbids unprivileged user namespaces:"
          + " sysctl kernel.unprivileged_userns_clone=1");
    }
    if (sysctl(procSys, "user/max_user_namespaces").filter("0"::equals).isPresent()) {
      problems.add("the kernel allows no user namespaces: sysctl user.max_user_namespaces=10000");
    }
    if (sysctl(procSys, "kernel/apparmor_restrict_unprivileged_userns").filter("1"::equals)
        .isPresent()) {
      problems.add("AppArmor restricts unprivileged user namespaces:"
          + " sysctl kernel.apparmor_restrict_unprivileged_userns=0");
    }
    for (String file : List.of("subuid", "subgid")) {
      if (!hasRange(etc.resolve(file), user)) {
        problems.add("user " + user + " has no subordinate ids in /etc/" + file
            + ": usermod --add-subuids 100000-165535 --add-subgids 100000-165535 " + user);
        break;
      }
    }
    for (Path helper : helpers) {
      if (!Files.isExecutable(helper)) {
        problems.add(helper + " is missing: apt-get install uidmap");
        break;
      }
    }
    return problems;
  }

  private static Optional<String> sysctl(Path procSys, String name) {
    try {
      Path file = procSys.resolve(name);
      return Files.isReadable(file) ? Optional.of(Files.readString(file).strip()) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();  // unreadable: the kernel will answer at the first build instead
    }
  }

  private static boolean hasRange(Path file, String user) {
    try {
      return Files.isReadable(file) && Files.readAllLines(file).stream()
          .anyMatch(line -> line.startsWith(user + ":"));
    } catch (IOException e) {
      return false;
    }
  }
}
