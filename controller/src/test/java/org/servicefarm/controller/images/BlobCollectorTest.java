package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.controller.db.BlobReferences;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;
import org.servicefarm.controller.model.ImageRecord;

class BlobCollectorTest {
  private static final Duration GRACE = Duration.ofHours(24);
  private static final Instant LATER = Instant.now().plus(Duration.ofDays(2));

  @TempDir
  Path dataDir;
  private Database db;
  private ImageCatalog catalog;
  private BlobStore blobs;

  @BeforeEach
  void migrate() {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(),
        "", 4);
    Migrations.migrate(db.dataSource());
    catalog = new ImageCatalog(db, new ImageRepository(), new CatalogRepository());
    blobs = new BlobStore(dataDir);
  }

  @AfterEach
  void close() {
    db.close();
  }

  private String put(String content) {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    return blobs.put(new ByteArrayInputStream(bytes), null, bytes.length).sha256();
  }

  @Test
  void anUnreferencedBlobGoesAfterTheGraceAndAReferencedOneStays() {
    String registered = put("a registered disk");
    String superseded = put("a build nothing uses any more");
    ImageRecord image = catalog.register("debian", registered, 17, "qcow2", null);

    BlobCollector.Report now = new BlobCollector(db, new BlobReferences(), blobs, GRACE)
        .collect(false);
    assertEquals(List.of(), now.collected(), "young blobs stay, referenced or not");
    assertEquals(1, now.youngBlobs());

    BlobCollector later = new BlobCollector(db, new BlobReferences(), blobs, GRACE, () -> LATER);
    BlobCollector.Report dryRun = later.collect(true);
    assertEquals(List.of(superseded), dryRun.collected().stream()
        .map(BlobStorage.StoredBlob::sha256).toList());
    assertTrue(blobs.stat(superseded).isPresent(), "a dry run removes nothing");
    assertEquals(29, dryRun.freedBytes());

    BlobCollector.Report collected = later.collect(false);
    assertEquals(List.of(superseded), collected.collected().stream()
        .map(BlobStorage.StoredBlob::sha256).toList());
    assertFalse(blobs.stat(superseded).isPresent());
    assertTrue(blobs.stat(image.sha256()).isPresent(), "the registered image's disk stays");
    assertEquals(17L, collected.keptBytesByKind().get("image"));
  }

  @Test
  void aBlobReferencedWhileTheCollectorRunsIsKept() {
    String old = put("an old archive a restore is about to use");
    // The store is listed after the references are read: the image that takes the blob up is
    // registered in between, as a restore or build starting during a pass would.
    BlobStorage racing = (BlobStorage) Proxy.newProxyInstance(getClass().getClassLoader(),
        new Class<?>[] {BlobStorage.class}, (proxy, method, args) -> {
          if (method.getName().equals("list")) {
            catalog.register("taken-up", old, 40, "qcow2", null);
          }
          try {
            return method.invoke(blobs, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });

    BlobCollector.Report report =
        new BlobCollector(db, new BlobReferences(), racing, GRACE, () -> LATER).collect(false);

    assertEquals(List.of(), report.collected());
    assertTrue(blobs.stat(old).isPresent());
    assertEquals(40L, report.keptBytesByKind().get("referenced_meanwhile"));
  }
}
