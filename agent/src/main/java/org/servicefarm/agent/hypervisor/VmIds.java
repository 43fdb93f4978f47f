package org.servicefarm.agent.hypervisor;

import java.util.regex.Pattern;

/**
 * VM ids become libvirt domain names and file names on the host, so only ids that are safe in
 * both are accepted: the controller's ids (UUIDs and similar) all fit.
 */
public final class VmIds {

  private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  private VmIds() {}

  /** @throws IllegalArgumentException naming the id when it is not safe */
  public static String requireValid(String vmId) {
    if (vmId == null || !SAFE.matcher(vmId).matches()) {
      throw new IllegalArgumentException(
          "vm id '" + vmId + "' is not valid: use letters, digits, '.', '_' or '-', at most 128");
    }
    return vmId;
  }
}
