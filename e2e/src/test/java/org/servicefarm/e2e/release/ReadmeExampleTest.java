package org.servicefarm.e2e.release;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.servicefarm.e2e.support.FarmJars;

/**
 * The README's Java example is the code of {@code org.servicefarm.examples.HoldServiceExample},
 * which compiles with the tests and runs against a farm in OperatorToolsEndToEndTest, so the
 * example a reader copies is one that works.
 */
class ReadmeExampleTest {
  static final Path EXAMPLE =
      Path.of("e2e/src/test/java/org/servicefarm/examples/HoldServiceExample.java");

  @Test
  void readmeShowsTheExampleProgramVerbatim() throws IOException {
    String source = Files.readString(FarmJars.root().resolve(EXAMPLE));
    // Everything after the package line: the imports and the class, as a reader would paste it.
    String program = source.substring(source.indexOf(';') + 1).strip();
    String readme = Files.readString(FarmJars.root().resolve("README.md"));

    assertTrue(readme.contains("```java\n" + program + "\n```"),
        "README.md must show " + EXAMPLE + " from its imports to its end, in a java block:\n"
            + program);
  }
}
