package org.servicefarm.e2e.support;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * For benchmarks that measure the daemons' own CPU and memory: the processes a test class starts
 * run with the JVM's defaults (full JIT, default collector), as a farm runs them, instead of the
 * small test settings. Used with {@code @ExtendWith(ProductionJvm.class)}.
 */
public final class ProductionJvm implements BeforeAllCallback, AfterAllCallback {

  @Override
  public void beforeAll(ExtensionContext context) {
    System.setProperty(FarmProcess.PRODUCTION_JVM_PROPERTY, "true");
  }

  @Override
  public void afterAll(ExtensionContext context) {
    System.clearProperty(FarmProcess.PRODUCTION_JVM_PROPERTY);
  }
}
