package org.servicefarm.controller.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.Status;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.db.CatalogRepository;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.DatabaseException;
import org.servicefarm.controller.db.ImageRepository;
import org.servicefarm.controller.db.Migrations;
import org.servicefarm.controller.db.embedded.EmbeddedPostgresForTests;
import org.servicefarm.controller.model.InstancePolicy;
import org.servicefarm.controller.model.ServiceDefinitionRecord.ServicePort;

/**
 * Every service has a gateway port of 30000-32767 for good: once all are taken, defining one
 * more is refused as a limit reached, RESOURCE_EXHAUSTED naming the service and the range, and
 * nothing of the definition is kept (it answered INTERNAL before).
 */
class GatewayPortLimitTest {
  private Database db;

  @BeforeEach
  void database() {
    db = new Database(EmbeddedPostgresForTests.freshDatabase(), EmbeddedPostgresForTests.user(),
        "", 2);
    Migrations.migrate(db.dataSource());
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void aServiceDefinedWhenEveryGatewayPortIsTakenIsRefusedNamingTheRange() {
    db.update("INSERT INTO gateway_ports (service, port)"
        + " SELECT 'earlier-' || p, p FROM generate_series(30000, 32767) AS p");
    CatalogRepository catalog = new CatalogRepository();
    java.util.UUID image = db.inTransaction(tx -> new ImageRepository()
        .register(tx, "base", "a".repeat(64), 4096, "qcow2", null).id());

    DatabaseException refused = assertThrows(DatabaseException.class, () -> db.inTransaction(
        tx -> catalog.define(tx, "one-too-many", image, List.of(), "serve", 1, 256,
            List.of(new ServicePort("one-too-many", 80)), InstancePolicy.DEFAULT)));

    Status status = StatusMapper.toStatus(refused);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode());
    assertEquals("no free gateway port for service one-too-many: all of 30000-32767 are taken",
        status.getDescription());
    assertEquals(List.of(), db.query("SELECT name FROM service_definitions"
        + " WHERE name = 'one-too-many'", rs -> rs.getString(1)));
  }
}
