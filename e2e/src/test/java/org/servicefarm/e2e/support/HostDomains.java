package org.servicefarm.e2e.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What libvirtd at qemu:///system holds for one farm host, read with virsh: the tests compare it
 * with the farm's VM table. Other farms may share this libvirtd, so a domain counts only when its
 * farm metadata names the host.
 */
public final class HostDomains {
  private static final String URI = "qemu:///system";

  private HostDomains() {}

  /** Names of the farm domains ({@code sf-<vm id>}) whose metadata places them on the host. */
  public static List<String> of(String hostId) throws IOException, InterruptedException {
    List<String> names = new ArrayList<>();
    for (String name : virsh("list", "--all", "--name").lines().map(String::strip).toList()) {
      if (name.startsWith("sf-") && virsh("dumpxml", name).contains("<sf:host>" + hostId + "<")) {
        names.add(name);
      }
    }
    return names;
  }

  /** The domain's state as virsh words it ("running", "shut off", ...), or "absent". */
  public static String state(String name) throws IOException, InterruptedException {
    String out = virsh("domstate", name).strip();
    return out.isEmpty() ? "absent" : out;
  }

  /** Runs virsh; a failing command (a domain that is gone) answers empty output. */
  private static String virsh(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("virsh", "-q", "-c", URI));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("virsh " + String.join(" ", args) + " did not finish in 30 s");
    }
    return p.exitValue() == 0 ? new String(out, StandardCharsets.UTF_8) : "";
  }
}
