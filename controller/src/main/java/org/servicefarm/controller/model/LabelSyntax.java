package org.servicefarm.controller.model;

import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * What a host label (zone=a) may look like, wherever one comes from: an agent's registration, an
 * admin's LabelHost, a definition's constraints. The same patterns are CHECKs on the tables.
 */
public final class LabelSyntax {
  private static final Pattern KEY = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
  private static final Pattern VALUE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
  /** More labels than anyone sorts hosts by; a bound on what one host row carries. */
  public static final int MAX_LABELS = 32;

  private LabelSyntax() {}

  /** The labels in key order, or InvalidInput naming the field and the offending label. */
  public static Map<String, String> labels(String field, Map<String, String> labels) {
    if (labels.size() > MAX_LABELS) {
      throw new FarmException.InvalidInput(field + ": " + labels.size()
          + " labels, more than the " + MAX_LABELS + " allowed");
    }
    Map<String, String> out = new TreeMap<>();
    labels.forEach((k, v) -> out.put(key(field, k), value(field, k, v)));
    return out;
  }

  public static String key(String field, String key) {
    if (key == null || !KEY.matcher(key).matches()) {
      throw new FarmException.InvalidInput(field + ": label key '" + shown(key) + "' is not"
          + " 1-63 of a-z, 0-9, '.', '_', '-' starting with a letter or digit");
    }
    return key;
  }

  private static String value(String field, String key, String value) {
    if (value == null || !VALUE.matcher(value).matches()) {
      throw new FarmException.InvalidInput(field + ": value '" + shown(value) + "' of label "
          + key + " is not 1-63 of A-Z, a-z, 0-9, '.', '_', '-' starting with a letter or digit");
    }
    return value;
  }

  private static String shown(String s) {
    if (s == null) {
      return "";
    }
    String printable = s.replaceAll("[^\\x20-\\x7e]", "?");
    return printable.length() > 70 ? printable.substring(0, 70) + "..." : printable;
  }
}
