package org.servicefarm.client.cli;

import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Host labels on the command line (zone=a) and in table cells ("rack=r1,zone=a"). */
final class Labels {
  private Labels() {}

  /** "rack=r1,zone=a" in key order; "-" for none. */
  static String cell(Map<String, String> labels) {
    if (labels.isEmpty()) {
      return Cells.NONE;
    }
    return new TreeMap<>(labels).entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
        .collect(Collectors.joining(","));
  }

  /** One KEY=VALUE; the controller checks what keys and values may hold. */
  record Label(String key, String value) {}

  /** Reads KEY=VALUE, naming the argument when it is not one. */
  static final class Converter implements ITypeConverter<Label> {
    @Override
    public Label convert(String value) {
      int eq = value.indexOf('=');
      if (eq <= 0 || eq == value.length() - 1) {
        throw new TypeConversionException("'" + value + "' is not KEY=VALUE (zone=a)");
      }
      return new Label(value.substring(0, eq), value.substring(eq + 1));
    }
  }

  /** The labels as a map; a key given twice is refused. */
  static Map<String, String> toMap(Iterable<Label> labels) {
    Map<String, String> out = new TreeMap<>();
    for (Label label : labels) {
      if (out.put(label.key(), label.value()) != null) {
        throw new IllegalArgumentException("label " + label.key() + " is given twice");
      }
    }
    return out;
  }
}
