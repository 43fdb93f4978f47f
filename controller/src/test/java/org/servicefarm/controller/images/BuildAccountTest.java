package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BuildAccountTest {
  @TempDir
  Path tmp;
  private Path procSys;
  private Path subuid;
  private Path subgid;
  private final List<List<String>> tried = new ArrayList<>();

  @BeforeEach
  void kernelThatAllowsUserNamespaces() throws IOException {
    procSys = tmp.resolve("proc-sys");
    write("kernel/unprivileged_userns_clone", "1\n");
    write("user/max_user_namespaces", "15000\n");
    subuid = Files.writeString(tmp.resolve("subuid"), "other:100000:65536\nservicefarm:165536:65536\n");
    subgid = Files.writeString(tmp.resolve("subgid"), "995:231072:65536\n");
  }

  @Test
  void whereTheKernelForbidsUserNamespacesTheMessageNamesTheSysctl() throws IOException {
    write("kernel/unprivileged_userns_clone", "0\n");
    BuildAccount account = detect(argv -> null);

    assertFalse(account.canCompose());
    String problem = account.problem().orElseThrow();
    assertTrue(problem.contains("runs as servicefarm"), problem);
    assertTrue(problem.contains("kernel.unprivileged_userns_clone = 0"), problem);
    assertTrue(problem.contains("register or upload images instead"), problem);
    assertEquals(List.of(), tried, "nothing is tried where the kernel says no");
  }

  @Test
  void aZeroLimitOfUserNamespacesIsNamedToo() throws IOException {
    write("user/max_user_namespaces", "0\n");
    String problem = detect(argv -> null).problem().orElseThrow();
    assertTrue(problem.contains("user.max_user_namespaces = 0"), problem);
  }

  @Test
  void anAccountWithoutSubordinateIdsIsToldHowToAddThem() throws IOException {
    Files.writeString(subuid, "other:100000:65536\nservicefarm:200000:1000\n");
    String problem = detect(argv -> null).problem().orElseThrow();
    assertTrue(problem.contains("no range of at least 65535 subordinate ids in " + subuid),
        problem);
    assertTrue(problem.contains("usermod --add-subuids"), problem);
  }

  @Test
  void aNamespaceThatCannotBeMadeIsReportedWithWhatUnshareSaid() {
    String problem = detect(argv -> "unshare: write failed /proc/self/uid_map: Operation not"
        + " permitted").problem().orElseThrow();
    assertTrue(problem.contains("uid_map: Operation not permitted"), problem);
    assertTrue(problem.contains("kernel.unprivileged_userns_clone"), problem);
    assertTrue(problem.contains("RestrictNamespaces="), problem);
  }

  @Test
  void anAllowedAccountRunsRootStepsAsRootOfANamespaceOfItsSubordinateIds() {
    BuildAccount account = detect(argv -> null);

    assertTrue(account.canCompose(), account.describe());
    assertTrue(account.inUserNamespace());
    // The uid range by name, the gid range by number: newuidmap accepts both.
    List<String> mapping = List.of("unshare", "--map-root-user", "--map-users=165536,1,65535",
        "--map-groups=231072,1,65535", "--mount", "--pid", "--fork", "--kill-child", "--");
    assertEquals(List.of(concat(mapping, List.of("true"))), tried, "the namespace is tried once");
    assertEquals(concat(mapping, List.of("mkfs.ext4", "-d", "rootfs")),
        account.privileged(List.of("mkfs.ext4", "-d", "rootfs")));
  }

  @Test
  void aRootControllerRunsItsToolsAsThemselves() {
    BuildAccount root = BuildAccount.detect("root", 0, procSys, subuid, subgid, argv -> "never");
    assertTrue(root.canCompose());
    assertFalse(root.inUserNamespace());
    assertEquals(List.of("mmdebstrap", "--mode=root"),
        root.privileged(List.of("mmdebstrap", "--mode=root")));
  }

  private BuildAccount detect(BuildAccount.Trial trial) {
    return BuildAccount.detect("servicefarm", 995, procSys, subuid, subgid, argv -> {
      tried.add(argv);
      return trial.failureOf(argv);
    });
  }

  private void write(String setting, String value) throws IOException {
    Path file = procSys.resolve(setting);
    Files.createDirectories(file.getParent());
    Files.writeString(file, value);
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }
}
