package org.servicefarm.controller.db;

import java.sql.Array;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.servicefarm.controller.model.InstancePolicy;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.model.ServiceDefinitionRecord.ServicePort;

/**
 * Service definitions and the named services they offer ({@code service_definitions}, {@code
 * services}).
 *
 * <p>A definition is in the catalog while it has {@code services} rows. Deleting it removes those
 * rows and keeps its {@code service_definitions} row, because {@code vms} rows (DELETED ones too)
 * reference it without cascade; so every reader of the catalog joins {@code services}, and a
 * deleted definition is invisible to listing, requests and the idle ladder. {@link #define} on
 * the name writes the row afresh and inserts its services again, which revives it.
 */
public final class CatalogRepository {

  /** Where a named service comes from, and how its definition's VMs live and scale. */
  public record ServiceRoute(String service, String definition, int guestPort, InstancePolicy policy) {}

  // Package-private: RequestRoutes reads the route of a request with its policy in one statement.
  static final String POLICY_COLUMNS =
      "d.sleep_after_seconds, d.archive_after_seconds, d.delete_after_seconds, d.min_active,"
          + " d.max_leases_per_vm, d.max_instances, d.stateless";

  private static final String DEFINITION_COLUMNS =
      "d.name, d.image_id, d.packages, d.command, d.vcpus, d.memory_mb, d.created_at, "
          + POLICY_COLUMNS;

  static final Database.RowMapper<InstancePolicy> POLICY =
      rs ->
          new InstancePolicy(
              rs.getInt("sleep_after_seconds"),
              rs.getInt("archive_after_seconds"),
              rs.getInt("delete_after_seconds"),
              rs.getInt("min_active"),
              rs.getInt("max_leases_per_vm"),
              rs.getInt("max_instances"),
              rs.getBoolean("stateless"));

  /**
   * Creates or replaces a definition and its services. The definition's own service comes first
   * in {@code services}. Returns the name of another definition that already offers one of the
   * services, if any; then nothing is written.
   */
  public Optional<String> define(
      Database.Tx tx,
      String name,
      UUID imageId,
      List<String> packages,
      String command,
      int vcpus,
      long memoryMb,
      List<ServicePort> services,
      InstancePolicy policy)
      throws SQLException {
    for (ServicePort port : services) {
      Optional<String> owner =
          tx.queryOne(
              "SELECT definition FROM services WHERE name = ? AND definition <> ?",
              rs -> rs.getString(1),
              port.name(),
              name);
      if (owner.isPresent()) {
        return Optional.of(port.name() + " is offered by definition " + owner.get());
      }
    }
    tx.update(
        "INSERT INTO service_definitions (name, image_id, packages, command, vcpus, memory_mb,"
            + " sleep_after_seconds, archive_after_seconds, delete_after_seconds, min_active,"
            + " max_leases_per_vm, max_instances, stateless)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            + " ON CONFLICT (name) DO UPDATE SET image_id = EXCLUDED.image_id,"
            + " packages = EXCLUDED.packages, command = EXCLUDED.command, vcpus = EXCLUDED.vcpus,"
            + " memory_mb = EXCLUDED.memory_mb,"
            + " sleep_after_seconds = EXCLUDED.sleep_after_seconds,"
            + " archive_after_seconds = EXCLUDED.archive_after_seconds,"
            + " delete_after_seconds = EXCLUDED.delete_after_seconds,"
            + " min_active = EXCLUDED.min_active, max_leases_per_vm = EXCLUDED.max_leases_per_vm,"
            + " max_instances = EXCLUDED.max_instances, stateless = EXCLUDED.stateless,"
            + " updated_at = now()",
        name,
        imageId,
        packages.toArray(String[]::new),
        command,
        vcpus,
        memoryMb,
        policy.sleepAfterSeconds(),
        policy.archiveAfterSeconds(),
        policy.deleteAfterSeconds(),
        policy.minActive(),
        policy.maxLeasesPerVm(),
        policy.maxInstances(),
        policy.stateless());
    tx.update("DELETE FROM services WHERE definition = ?", name);
    for (ServicePort port : services) {
      tx.update(
          "INSERT INTO services (name, definition, guest_port) VALUES (?, ?, ?)",
          port.name(),
          name,
          port.guestPort());
    }
    return Optional.empty();
  }

  /**
   * Locks the definition against a concurrent {@link #define} (whose upsert takes the same row
   * lock) and says whether it is in the catalog: its row exists and it still offers services.
   * Reads its services after the lock, so a define that committed meanwhile is seen.
   */
  public boolean lockIfDefined(Database.Tx tx, String name) throws SQLException {
    // NO KEY UPDATE, not UPDATE: VM inserts referencing the row take KEY SHARE and need not wait.
    boolean exists = tx.queryOne(
            "SELECT name FROM service_definitions WHERE name = ? FOR NO KEY UPDATE",
            rs -> rs.getString(1), name)
        .isPresent();
    return exists && tx.queryOne("SELECT 1 FROM services WHERE definition = ? LIMIT 1",
        rs -> rs.getInt(1), name).isPresent();
  }

  /**
   * Takes the definition out of the catalog: its services (its own and bundled ones) go, its row
   * stays for the VMs that reference it (see the class comment).
   */
  public void removeServices(Database.Tx tx, String name) throws SQLException {
    tx.update("DELETE FROM services WHERE definition = ?", name);
  }

  public Optional<ServiceRoute> route(Database.Tx tx, String service) throws SQLException {
    return tx.queryOne(
        "SELECT s.name, s.definition, s.guest_port, " + POLICY_COLUMNS
            + " FROM services s JOIN service_definitions d ON d.name = s.definition WHERE s.name = ?",
        rs -> new ServiceRoute(rs.getString(1), rs.getString(2), rs.getInt(3), POLICY.map(rs)),
        service);
  }

  public Optional<ServiceDefinitionRecord> find(Database.Tx tx, String name) throws SQLException {
    return list(tx, "WHERE d.name = ?", name).stream().findFirst();
  }

  public List<ServiceDefinitionRecord> list(Database db) {
    return db.inTransaction(tx -> list(tx, ""));
  }

  /**
   * The definitions with an idle ladder or a warm pool ({@link InstancePolicy#laddered()}): the
   * ladder reads them every second, and a farm of thousands of definitions mostly has neither.
   */
  public List<ServiceDefinitionRecord> laddered(Database.Tx tx) throws SQLException {
    return list(tx, "WHERE d.sleep_after_seconds > 0"
        + " OR d.archive_after_seconds > 0 OR d.delete_after_seconds > 0 OR d.min_active > 0");
  }

  private List<ServiceDefinitionRecord> list(Database.Tx tx, String where, Object... args)
      throws SQLException {
    // One query for definitions and their services together: no query per definition.
    List<Object[]> rows =
        tx.query(
            "SELECT " + DEFINITION_COLUMNS + ", s.name AS service, s.guest_port"
                + " FROM service_definitions d JOIN services s ON s.definition = d.name "
                + where
                + " ORDER BY d.name, (s.name = d.name) DESC, s.name",
            rs ->
                new Object[] {
                  new ServiceDefinitionRecord(
                      rs.getString("name"),
                      Rows.uuid(rs, "image_id"),
                      textArray(rs.getArray("packages")),
                      rs.getString("command"),
                      rs.getInt("vcpus"),
                      rs.getLong("memory_mb"),
                      List.of(),
                      Rows.instant(rs, "created_at"),
                      POLICY.map(rs)),
                  new ServicePort(rs.getString("service"), rs.getInt("guest_port"))
                },
            args);
    Map<String, ServiceDefinitionRecord> byName = new LinkedHashMap<>();
    Map<String, List<ServicePort>> ports = new LinkedHashMap<>();
    for (Object[] row : rows) {
      ServiceDefinitionRecord d = (ServiceDefinitionRecord) row[0];
      byName.putIfAbsent(d.name(), d);
      ports.computeIfAbsent(d.name(), k -> new ArrayList<>()).add((ServicePort) row[1]);
    }
    List<ServiceDefinitionRecord> result = new ArrayList<>();
    for (ServiceDefinitionRecord d : byName.values()) {
      result.add(
          new ServiceDefinitionRecord(
              d.name(),
              d.imageId(),
              d.packages(),
              d.command(),
              d.vcpus(),
              d.memoryMb(),
              List.copyOf(ports.get(d.name())),
              d.createdAt(),
              d.policy()));
    }
    return result;
  }

  private static List<String> textArray(Array array) throws SQLException {
    return array == null ? List.of() : Arrays.asList((String[]) array.getArray());
  }
}
