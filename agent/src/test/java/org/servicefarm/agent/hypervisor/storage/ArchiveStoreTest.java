package org.servicefarm.agent.hypervisor.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ArchiveStoreTest {

  @TempDir
  Path dir;

  @Test
  void archiveRefsOutsideTheStoreAreRefused() throws Exception {
    var store = new ArchiveStore(dir.resolve("archive"));
    Files.createDirectories(dir.resolve("elsewhere"));
    Files.writeString(dir.resolve("elsewhere/metadata.xml"), "<vm/>");

    var outside = assertThrows(IOException.class,
        () -> store.open(dir.resolve("elsewhere").toString()));
    assertTrue(outside.getMessage().contains("outside"), outside.getMessage());
    var climbing = assertThrows(IOException.class,
        () -> store.open(dir.resolve("archive/../elsewhere").toString()));
    assertTrue(climbing.getMessage().contains("outside"), climbing.getMessage());
  }

  @Test
  void repeatingAnInterruptedArchiveKeepsTheDiskAlreadyMovedIn() throws Exception {
    var store = new ArchiveStore(dir.resolve("archive"));
    Path disk = dir.resolve("vm-1.qcow2");
    Files.writeString(disk, "guest data");
    Path archived = store.store("vm-1", disk, "<vm>first</vm>");
    assertFalse(Files.exists(disk));

    // Same call again, as after a crash before the domain was undefined: the disk is gone now.
    assertEquals(archived, store.store("vm-1", disk, "<vm>second</vm>"));

    var reopened = store.open(archived.toString());
    assertEquals("<vm>second</vm>", reopened.metadataXml());
    Path restored = dir.resolve("restored.qcow2");
    store.restoreDisk(reopened, restored);
    assertEquals("guest data", Files.readString(restored));
  }
}
