package org.servicefarm.agent.testing;

import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Assumptions;

/**
 * Tests that need the real thing (libvirtd, qemu-img) skip loudly on a developer machine that
 * lacks it, but fail in CI (CI=true), where a skip would hide that they never ran.
 */
public final class RealHostPrerequisites {

  private RealHostPrerequisites() {}

  public static void require(boolean available, String missing) {
    if (available) {
      return;
    }
    String reason = "SKIPPED, NOT PASSED: " + missing;
    if ("true".equals(System.getenv("CI"))) {
      fail(missing + " (CI=true, so this fails instead of skipping)");
    }
    System.err.println(reason);
    Assumptions.assumeTrue(false, reason);
  }
}
