package org.servicefarm.agent.hypervisor.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.agent.images.FakeImageStoreForTest;

/** An archive that cannot be written leaves nothing half-written and says where and how full. */
class VmArchivesTest {

  @TempDir
  Path dir;

  @Test
  void anArchiveThatCannotBeWrittenLeavesNoPartialFileAndNamesThePathAndTheRoom()
      throws Exception {
    try (FakeImageStoreForTest store = FakeImageStoreForTest.started()) {
      VmArchives archives = new VmArchives(dir.resolve("state"), store.transfers());
      // Reading a directory as the overlay fails part-way, as a full disk fails the write.
      Path unreadable = Files.createDirectories(dir.resolve("not-an-overlay"));

      IOException failed = assertThrows(IOException.class,
          () -> archives.upload("vm-1", unreadable));

      Path upload = dir.resolve("state/archives/vm-1/upload.gz");
      assertTrue(failed.getMessage().contains(upload.toString()), failed.getMessage());
      assertTrue(failed.getMessage().contains("MiB free of"), failed.getMessage());
      try (var left = Files.walk(dir.resolve("state"))) {
        assertEquals(List.of(), left.filter(Files::isRegularFile).toList(), "nothing left");
      }
    }
  }
}
