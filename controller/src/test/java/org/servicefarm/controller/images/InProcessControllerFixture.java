package org.servicefarm.controller.images;

import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.api.v1.FarmAdminGrpc;
import org.servicefarm.controller.Controller;
import org.servicefarm.controller.ControllerConfig;
import org.servicefarm.controller.auth.AgentIdentity;
import org.servicefarm.controller.auth.AuthSettings;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;

/**
 * The whole controller, as the farm runs it, served over in-process gRPC on a fresh database for
 * each test: the image calls are FarmAdmin's, served beside the rest, with the import directory
 * and the blob store the test reads.
 */
abstract class InProcessControllerFixture {
  @TempDir
  Path dataDir;
  Path importDir;
  Database db;
  BlobStore blobs;
  Controller controller;
  ManagedChannel channel;
  FarmAdminGrpc.FarmAdminBlockingStub admin;
  FarmAdminGrpc.FarmAdminStub adminAsync;

  @BeforeEach
  void serve() throws IOException {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(),
        "", 4);
    Migrations.migrate(db.dataSource());
    blobs = new BlobStore(dataDir, 10_000_000);
    importDir = Files.createDirectories(dataDir.resolve("import")).toRealPath();
    controller = new Controller(db, ControllerConfig.defaults()
        .withImages(ImageSettings.defaults().withImportDirectory(importDir)), dataDir, "",
        address -> {
          throw new IllegalStateException("a lone controller forwards nothing");
        }, blobs);
    String name = InProcessServerBuilder.generateName();
    controller.serve(InProcessServerBuilder.forName(name), AgentIdentity.trustingRegistration(),
        AuthSettings.none());
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    admin = FarmAdminGrpc.newBlockingStub(channel);
    adminAsync = FarmAdminGrpc.newStub(channel);
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    controller.close();
    db.close();
  }
}
