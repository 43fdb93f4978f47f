package org.servicefarm.controller.dashboard;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.Arrays;
import java.util.Set;
import org.servicefarm.api.v1.BundledService;
import org.servicefarm.api.v1.ServiceDefinition;

/**
 * The dashboard's "define a service" form, as the JSON its script sends, turned into the
 * definition farmctl's {@code service define} would send: the same fields, the same defaults
 * (1 vCPU, 256 MB, at most 1 instance). Whether the definition is acceptable is the farm's to
 * say (DefineService validates it); this only refuses what is not a form at all.
 */
final class ServiceForm {
  private static final Set<String> FIELDS = Set.of("name", "packages", "image", "port", "vcpus",
      "memoryMb", "command", "bundled", "sleepAfterSeconds", "archiveAfterSeconds",
      "deleteAfterSeconds", "minActive", "maxLeasesPerVm", "maxInstances", "stateless",
      "priority", "preemptible");

  private ServiceForm() {}

  /**
   * @throws IllegalArgumentException naming the field that is unknown or not of its kind
   */
  static ServiceDefinition definition(JsonObject form) {
    for (String key : form.keySet()) {
      if (!FIELDS.contains(key)) {
        throw new IllegalArgumentException("unknown field '" + key + "' (known: "
            + String.join(", ", FIELDS.stream().sorted().toList()) + ")");
      }
    }
    ServiceDefinition.Builder d = ServiceDefinition.newBuilder()
        .setName(text(form, "name"))
        .setImage(text(form, "image"))
        .setCommand(text(form, "command"))
        .setPort(number(form, "port", 0))
        .setVcpus(number(form, "vcpus", 1))
        .setMemoryMb(number(form, "memoryMb", 256))
        .setSleepAfterSeconds(number(form, "sleepAfterSeconds", 0))
        .setArchiveAfterSeconds(number(form, "archiveAfterSeconds", 0))
        .setDeleteAfterSeconds(number(form, "deleteAfterSeconds", 0))
        .setMinActive(number(form, "minActive", 0))
        .setMaxLeasesPerVm(number(form, "maxLeasesPerVm", 0))
        .setMaxInstances(number(form, "maxInstances", 1))
        .setStateless(form.has("stateless") && form.get("stateless").getAsBoolean())
        .setPriority(number(form, "priority", 0))
        .setPreemptible(form.has("preemptible") && form.get("preemptible").getAsBoolean());
    // As farmctl's --packages: comma-separated (spaces allowed too, as people type them).
    Arrays.stream(text(form, "packages").split("[,\\s]+")).filter(p -> !p.isEmpty())
        .forEach(d::addPackages);
    // As farmctl's --bundle NAME:PORT, comma-separated.
    for (String bundle : text(form, "bundled").split("[,\\s]+")) {
      if (bundle.isEmpty()) {
        continue;
      }
      int colon = bundle.lastIndexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException("bundled service '" + bundle + "' is not NAME:PORT");
      }
      try {
        d.addBundled(BundledService.newBuilder().setName(bundle.substring(0, colon))
            .setPort(Integer.parseInt(bundle.substring(colon + 1))));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bundled service '" + bundle + "' is not NAME:PORT");
      }
    }
    return d.build();
  }

  private static String text(JsonObject form, String field) {
    JsonElement value = form.get(field);
    if (value == null || value.isJsonNull()) {
      return "";
    }
    if (!value.isJsonPrimitive()) {
      throw new IllegalArgumentException("'" + field + "' must be text, not " + value);
    }
    return value.getAsString().strip();
  }

  private static int number(JsonObject form, String field, int absent) {
    String text = text(form, field);
    if (text.isEmpty()) {
      return absent;
    }
    try {
      return Integer.parseInt(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + field + "' must be a whole number, not '" + text
          + "'");
    }
  }
}
