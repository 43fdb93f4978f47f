package org.servicefarm.e2e.support;

import java.nio.file.Files;
import java.nio.file.Path;

/** The runnable jars the build made, found from the project root. */
public final class FarmJars {
  private FarmJars() {}

  public static Path root() {
    Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath();
    while (dir != null && !Files.exists(dir.resolve("farm"))) {
      dir = dir.getParent();
    }
    if (dir == null) {
      throw new IllegalStateException("cannot find the project root (the folder with ./farm) above "
          + System.getProperty("user.dir"));
    }
    return dir;
  }

  public static Path controller() {
    return jar("controller/target/servicefarm-controller.jar");
  }

  public static Path agent() {
    return jar("agent/target/servicefarm-agent.jar");
  }

  public static Path gateway() {
    return jar("gateway/target/servicefarm-gateway.jar");
  }

  public static Path farmctl() {
    return jar("cli/target/farmctl.jar");
  }

  /** farmctl's launcher script, which runs farmctl() on a JVM set up to start fast. */
  public static Path farmctlLauncher() {
    farmctl(); // fails with a clear message when the jar it runs is not built
    return root().resolve("cli/farmctl");
  }

  private static Path jar(String relative) {
    Path jar = root().resolve(relative);
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException(jar + " is missing: run the tests through ./farm test "
          + "(mvn verify builds the jars before the e2e module)");
    }
    return jar;
  }
}
