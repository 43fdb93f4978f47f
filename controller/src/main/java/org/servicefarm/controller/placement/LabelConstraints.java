package org.servicefarm.controller.placement;

import java.util.Map;
import java.util.stream.Collectors;

/**
 * The labels a definition requires of its VMs' hosts ({@code --constraint zone=a}): a host must
 * carry every one with the same value. A hard rule: a host without them never takes the VM.
 */
final class LabelConstraints {
  private LabelConstraints() {}

  static boolean rejects(Map<String, String> constraints, HostSnapshot host) {
    if (constraints.isEmpty()) {
      return false;
    }
    Map<String, String> labels = host.labels();
    for (Map.Entry<String, String> required : constraints.entrySet()) {
      if (!required.getValue().equals(labels.get(required.getKey()))) {
        return true;
      }
    }
    return false;
  }

  /** "constraint zone=a", or "constraints disk=ssd, zone=a", in key order. */
  static String describe(Map<String, String> constraints) {
    return (constraints.size() == 1 ? "constraint " : "constraints ")
        + constraints.entrySet().stream().sorted(Map.Entry.comparingByKey())
            .map(c -> c.getKey() + "=" + c.getValue()).collect(Collectors.joining(", "));
  }
}
