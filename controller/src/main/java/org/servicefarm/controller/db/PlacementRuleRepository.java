package org.servicefarm.controller.db;

import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.servicefarm.controller.model.PlacementPolicy;

/**
 * Definitions' placement rules ({@code definition_constraints}, {@code definition_spread}) and
 * what placement must know of a definition's VMs to apply them: how many sit on each host.
 */
public final class PlacementRuleRepository {

  /** Replaces the definition's rules with {@code policy}. */
  public void save(Database.Tx tx, String definition, PlacementPolicy policy) throws SQLException {
    tx.update("DELETE FROM definition_constraints WHERE definition = ?", definition);
    for (Map.Entry<String, String> c : policy.constraints().entrySet()) {
      tx.update("INSERT INTO definition_constraints (definition, key, value) VALUES (?, ?, ?)",
          definition, c.getKey(), c.getValue());
    }
    tx.update("DELETE FROM definition_spread WHERE definition = ?", definition);
    if (policy.spreads()) {
      tx.update("INSERT INTO definition_spread (definition, label_key, hard, max_skew)"
              + " VALUES (?, ?, ?, ?)",
          definition, policy.spreadBy(), policy.spreadHard(), policy.spreadMaxSkew());
    }
  }

  /** The definition's rules; {@link PlacementPolicy#NONE} when it has none. */
  public PlacementPolicy find(Database.Tx tx, String definition) throws SQLException {
    Map<String, String> constraints = new TreeMap<>();
    tx.query("SELECT key, value FROM definition_constraints WHERE definition = ?",
            rs -> Map.entry(rs.getString(1), rs.getString(2)), definition)
        .forEach(e -> constraints.put(e.getKey(), e.getValue()));
    return tx.queryOne("SELECT label_key, hard, max_skew FROM definition_spread"
                + " WHERE definition = ?",
            rs -> new PlacementPolicy(Map.copyOf(constraints), rs.getString(1), rs.getBoolean(2),
                rs.getInt(3)), definition)
        .orElse(constraints.isEmpty() ? PlacementPolicy.NONE
            : new PlacementPolicy(Map.copyOf(constraints), "", false, 1));
  }

  /** Every definition's rules that has any, by definition name (for listings). */
  public Map<String, PlacementPolicy> all(Database db) {
    Map<String, Map<String, String>> constraints = new HashMap<>();
    db.query("SELECT definition, key, value FROM definition_constraints",
            rs -> new String[] {rs.getString(1), rs.getString(2), rs.getString(3)})
        .forEach(r -> constraints.computeIfAbsent(r[0], d -> new TreeMap<>()).put(r[1], r[2]));
    Map<String, PlacementPolicy> out = new HashMap<>();
    constraints.forEach((d, c) -> out.put(d, new PlacementPolicy(Map.copyOf(c), "", false, 1)));
    db.query("SELECT definition, label_key, hard, max_skew FROM definition_spread",
            rs -> Map.entry(rs.getString(1), new PlacementPolicy(
                Map.copyOf(constraints.getOrDefault(rs.getString(1), Map.of())),
                rs.getString(2), rs.getBoolean(3), rs.getInt(4))))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  /**
   * How many of the definition's VMs of the project hold resources on each host (those placement
   * counts against the host, see HostRepository): spread and anti-affinity weigh them.
   */
  public Map<String, Integer> instancesPerHost(Database.Tx tx, String definition, String project)
      throws SQLException {
    Map<String, Integer> out = new HashMap<>();
    tx.query("SELECT host_id, count(*) FROM vms WHERE definition = ? AND project = ?"
                + " AND host_id IS NOT NULL AND state NOT IN ('ARCHIVED', 'DELETED', 'FAILED')"
                + " GROUP BY host_id",
            rs -> Map.entry(rs.getString(1), rs.getInt(2)), definition, project)
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }
}
