package org.servicefarm.controller.api;

import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.InstancePolicy;

/**
 * Checks a definition's idle ladder and scale-out settings; each refusal names the field and its
 * value. The same rules are CHECK constraints on {@code service_definitions}.
 */
final class PolicyValidation {
  /** Ten years: any longer is a typo, and the sum with a timestamp stays far from overflow. */
  static final int MAX_SECONDS = 10 * 366 * 24 * 3600;
  static final int MAX_INSTANCES = 1000;
  static final int MAX_LEASES_PER_VM = 100_000;

  private PolicyValidation() {}

  static InstancePolicy of(ServiceDefinition d) {
    int sleep = seconds("definition.sleep_after_seconds", d.getSleepAfterSeconds());
    int archive = seconds("definition.archive_after_seconds", d.getArchiveAfterSeconds());
    int delete = seconds("definition.delete_after_seconds", d.getDeleteAfterSeconds());
    later("definition.archive_after_seconds", archive, "definition.sleep_after_seconds", sleep,
        "a VM is archived after it has slept");
    later("definition.delete_after_seconds", delete, "definition.archive_after_seconds", archive,
        "a VM is deleted after it has been archived");
    // 0 means the default of one VM, as the API documents.
    int maxInstances = d.getMaxInstances() == 0 ? 1 : (int) Validation.range(
        "definition.max_instances", d.getMaxInstances(), 1, MAX_INSTANCES);
    int minActive = (int) Validation.range("definition.min_active", d.getMinActive(), 0,
        MAX_INSTANCES);
    if (minActive > maxInstances) {
      throw new FarmException.InvalidInput("definition.min_active: " + minActive
          + " is more than definition.max_instances (" + maxInstances + ")");
    }
    int maxLeases = (int) Validation.range("definition.max_leases_per_vm",
        d.getMaxLeasesPerVm(), 0, MAX_LEASES_PER_VM);
    return new InstancePolicy(sleep, archive, delete, minActive, maxLeases, maxInstances,
        d.getStateless());
  }

  private static int seconds(String field, int value) {
    return (int) Validation.range(field, value, 0, MAX_SECONDS);
  }

  /** Each rung counts from the last use, so a later rung set beside an earlier one comes later. */
  private static void later(String field, int value, String earlierField, int earlier,
      String why) {
    if (value != 0 && earlier != 0 && value <= earlier) {
      throw new FarmException.InvalidInput(field + ": " + value + " must be more than "
          + earlierField + " (" + earlier + "): " + why);
    }
  }
}
