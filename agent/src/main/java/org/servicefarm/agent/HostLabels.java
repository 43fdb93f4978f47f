package org.servicefarm.agent;

import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The agent's --label values (zone=a, rack=r1) as the labels it reports at registration. The
 * patterns are the controller's, so a typo stops the agent at start rather than at registration.
 */
final class HostLabels {
  private static final Pattern KEY = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
  private static final Pattern VALUE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

  private HostLabels() {}

  /**
   * The labels of a comma list (null: none), key to value; IllegalArgumentException naming a
   * malformed or repeated one.
   */
  static Map<String, String> parse(String list) {
    Map<String, String> labels = new TreeMap<>();
    for (String pair : list == null ? new String[0] : list.split(",")) {
      String trimmed = pair.trim();
      if (trimmed.isEmpty()) {
        continue;
      }
      int eq = trimmed.indexOf('=');
      String key = eq < 0 ? trimmed : trimmed.substring(0, eq);
      String value = eq < 0 ? "" : trimmed.substring(eq + 1);
      if (!KEY.matcher(key).matches() || !VALUE.matcher(value).matches()) {
        throw new IllegalArgumentException("'" + trimmed + "' is not KEY=VALUE (key: a-z, 0-9,"
            + " '.', '_', '-'; value: letters, digits, '.', '_', '-'; each 1-63 characters)");
      }
      if (labels.put(key, value) != null) {
        throw new IllegalArgumentException("label " + key + " is given twice");
      }
    }
    return labels;
  }
}
