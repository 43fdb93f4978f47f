package org.servicefarm.e2e.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.images.BlobStore;
import org.servicefarm.controller.images.ImageCatalog;
import org.servicefarm.controller.images.ImageConstructor;
import org.servicefarm.controller.images.ImageConstructor.BuildPhases;
import org.servicefarm.controller.model.ImageRecord;
import org.servicefarm.controller.model.ServiceDefinitionRecord.ServicePort;
import org.servicefarm.e2e.support.BenchmarkTable;
import org.servicefarm.e2e.support.ProcessFarm;
import org.servicefarm.e2e.support.StandalonePostgres;

/**
 * Images in layers, on this machine's Debian mirror: the base layer composed with a warm package
 * cache (a fresh layer cache whose package directory holds links to the shared cache's
 * packages), then on that base a new package combination whose packages are cached, and one
 * whose packages are downloaded; and the bytes a host that caches the base fetches for a new
 * service (the service layer) beside the base's. Prints figures (./farm bench Images).
 */
class ImagesBenchmark {

  @Test
  void images() throws Exception {
    Path work = Files.createTempDirectory("servicefarm-images-bench");
    try (StandalonePostgres pg = new StandalonePostgres(Files.createTempDirectory("servicefarm-pg"));
        Database db = new Database(pg.jdbcUrl(), pg.user(), "", 4)) {
      Migrations.migrate(db.dataSource());
      Path shared = ProcessFarm.sharedLayerCache().resolve("packages");
      Path cache = work.resolve("layer-cache");
      Files.createDirectories(cache.resolve("packages"));
      warm(shared, cache.resolve("packages"));
      ImageRepository images = new ImageRepository();
      ImageCatalog catalog = new ImageCatalog(db, images, new CatalogRepository());
      ImageConstructor constructor = new ImageConstructor(db, images,
          new BlobStore(work.resolve("controller")),
          ImageConstructor.Settings.defaults(work.resolve("controller")).withLayerCache(cache));

      ImageRecord first = build(constructor, catalog, "web", List.of("busybox"),
          "busybox httpd -f -p 80 -h /srv/www");
      BuildPhases base = constructor.lastPhases(first.id()).orElseThrow();
      assertTrue(base.baseComposed(), "the benchmark's fresh layer cache composes the base");
      // The same packages as the first, another command: every package is in the cache.
      ImageRecord cached = build(constructor, catalog, "web-again", List.of("busybox"),
          "busybox httpd -f -p 8080 -h /srv/www");
      BuildPhases onBase = constructor.lastPhases(cached.id()).orElseThrow();
      ImageRecord fresh = build(constructor, catalog, "hello", List.of("hello", "busybox"),
          "hello");
      BuildPhases withDownload = constructor.lastPhases(fresh.id()).orElseThrow();
      assertFalse(onBase.baseComposed());
      assertEquals(first.baseLayerSha256(), fresh.baseLayerSha256());

      BenchmarkTable table = new BenchmarkTable("Images in layers (mmdebstrap, apt, debugfs,"
          + " qemu-img on this machine)", "step", "time", "parts");
      table.row("base layer, warm package cache", BenchmarkTable.seconds(base.base()),
          "mmdebstrap, init, tree, mkfs.ext4 -d, qemu-img convert -c");
      table.row("new combination on the cached base, packages cached: image ready",
          BenchmarkTable.seconds(onBase.total()), parts(onBase));
      table.row("new combination on the cached base, a package downloaded: image ready",
          BenchmarkTable.seconds(withDownload.total()), parts(withDownload));
      table.row("first image with its base (base + layer)", BenchmarkTable.seconds(base.total()),
          parts(base));
      table.note(String.format("Bytes a host that caches the base fetches for a new service:"
              + " the service layer, %,d bytes (busybox httpd) and %,d bytes (hello); the base"
              + " layer it already holds is %,d bytes.", cached.sizeBytes(), fresh.sizeBytes(),
          first.baseLayerSizeBytes()));
      table.publish("images.md");
    }
  }

  private static ImageRecord build(ImageConstructor constructor, ImageCatalog catalog,
      String name, List<String> packages, String command) {
    return constructor.ensureBuilt(catalog.image(catalog.define(new ImageCatalog.DefinitionInput(
        name, packages, "", command, 1, 256, List.of(new ServicePort(name, 80)))).imageId()));
  }

  private static String parts(BuildPhases p) {
    return "base " + BenchmarkTable.seconds(p.base()) + ", packages "
        + BenchmarkTable.seconds(p.compose().minus(p.base())) + ", write "
        + BenchmarkTable.seconds(p.filesystem()) + ", delta " + BenchmarkTable.seconds(
        p.convert()) + ", store " + BenchmarkTable.seconds(p.store());
  }

  /** Links the shared cache's packages into the benchmark's own package directory. */
  private static void warm(Path shared, Path into) throws IOException {
    if (!Files.isDirectory(shared)) {
      return;
    }
    try (Stream<Path> debs = Files.list(shared)) {
      for (Path deb : debs.filter(p -> p.toString().endsWith(".deb")).toList()) {
        try {
          Files.createLink(into.resolve(deb.getFileName()), deb);
        } catch (IOException | UnsupportedOperationException e) { // another file system: copy
          Files.copy(deb, into.resolve(deb.getFileName()));
        }
      }
    }
  }
}
