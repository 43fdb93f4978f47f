package org.servicefarm.agent.hypervisor.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The end of a console log as the dashboard's VM page shows it. */
class ConsoleTailTest {
  @TempDir
  Path dir;

  @Test
  void answersTheLastBytesOfALongLog() throws Exception {
    Path log = dir.resolve("vm.log");
    Files.writeString(log, "x".repeat(100_000) + "ready\n");
    byte[] tail = ConsoleTail.read(log, 10);
    assertEquals("xxxxready\n", new String(tail, StandardCharsets.UTF_8));
  }

  @Test
  void aShortLogIsAnsweredWholeAndAMissingOneIsEmpty() throws Exception {
    Path log = dir.resolve("vm.log");
    Files.writeString(log, "booting\n");
    assertEquals("booting\n", new String(ConsoleTail.read(log, 4096), StandardCharsets.UTF_8));
    assertArrayEquals(new byte[0], ConsoleTail.read(dir.resolve("none.log"), 4096));
  }

  @Test
  void noCallerGetsMoreThanTheBound() throws Exception {
    Path log = dir.resolve("vm.log");
    Files.write(log, new byte[ConsoleTail.MAX_BYTES * 2]);
    assertEquals(ConsoleTail.MAX_BYTES, ConsoleTail.read(log, Integer.MAX_VALUE).length);
    assertEquals(0, ConsoleTail.read(log, -5).length);
  }
}
