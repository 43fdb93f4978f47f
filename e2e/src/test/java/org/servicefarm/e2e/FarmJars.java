package org.servicefarm.e2e;

import java.nio.file.Files;
import java.nio.file.Path;

/** The runnable jars the build made, found from the project root. */
final class FarmJars {
  private FarmJars() {}

  static Path root() {
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

  static Path controller() {
    return jar("controller/target/servicefarm-controller.jar");
  }

  static Path agent() {
    return jar("agent/target/servicefarm-agent.jar");
  }

  static Path gateway() {
    return jar("gateway/target/servicefarm-gateway.jar");
  }

  static Path farmctl() {
    return jar("client-sdk/target/farmctl.jar");
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
