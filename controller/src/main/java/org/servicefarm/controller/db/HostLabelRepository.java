package org.servicefarm.controller.db;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;
import java.util.TreeMap;

/**
 * Host labels ({@code host_labels}) and overcommit ratios: an agent's labels replaced at each
 * registration, an admin's kept until an admin removes them, and the admin's winning for a key
 * both have.
 */
public final class HostLabelRepository {

  /**
   * The host's labels as "key=value", an admin's over its agent's, for {@link HostRepository}'s
   * select of {@code hosts h}. Neither keys nor values may hold '=' (the table's CHECKs).
   */
  static final String LABELS_COLUMN =
      "ARRAY(SELECT DISTINCT ON (l.key) l.key || '=' || l.value FROM host_labels l"
          + " WHERE l.host_id = h.id ORDER BY l.key, l.source = 'admin' DESC) AS labels ";

  static Map<String, String> labels(ResultSet rs) throws SQLException {
    java.sql.Array array = rs.getArray("labels");
    if (array == null) {
      return Map.of();
    }
    String[] pairs = (String[]) array.getArray();
    if (pairs.length == 0) {
      return Map.of();
    }
    Map<String, String> labels = new TreeMap<>();
    for (String pair : pairs) {
      int eq = pair.indexOf('=');
      labels.put(pair.substring(0, eq), pair.substring(eq + 1));
    }
    return java.util.Collections.unmodifiableMap(labels);
  }

  /** Replaces the labels the host's agent reported with {@code labels} (at registration). */
  public void replaceAgentLabels(Database.Tx tx, String hostId, Map<String, String> labels)
      throws SQLException {
    tx.update("DELETE FROM host_labels WHERE host_id = ? AND source = 'agent'", hostId);
    for (Map.Entry<String, String> label : labels.entrySet()) {
      tx.update("INSERT INTO host_labels (host_id, key, value, source) VALUES (?, ?, ?, 'agent')",
          hostId, label.getKey(), label.getValue());
    }
  }

  /** Sets an admin's labels on the host and removes the admin's labels of {@code remove}. */
  public void setAdminLabels(Database.Tx tx, String hostId, Map<String, String> labels,
      Iterable<String> remove) throws SQLException {
    for (String key : remove) {
      tx.update("DELETE FROM host_labels WHERE host_id = ? AND key = ? AND source = 'admin'",
          hostId, key);
    }
    for (Map.Entry<String, String> label : labels.entrySet()) {
      tx.update("INSERT INTO host_labels (host_id, key, value, source) VALUES (?, ?, ?, 'admin')"
              + " ON CONFLICT (host_id, key, source) DO UPDATE SET value = EXCLUDED.value",
          hostId, label.getKey(), label.getValue());
    }
  }

  /**
   * Sets the host's overcommit ratios; a ratio of 0 is left as it is. Returns whether the host
   * exists.
   */
  public boolean setOvercommit(Database.Tx tx, String hostId, double cpu, double memory)
      throws SQLException {
    return tx.update("UPDATE hosts SET"
            + " cpu_overcommit = CASE WHEN ? > 0 THEN ? ELSE cpu_overcommit END,"
            + " memory_overcommit = CASE WHEN ? > 0 THEN ? ELSE memory_overcommit END"
            + " WHERE id = ?",
        cpu, cpu, memory, memory, hostId) == 1;
  }

  /** Puts the host's ratios back to the controller's defaults; whether the host exists. */
  public boolean resetOvercommit(Database.Tx tx, String hostId) throws SQLException {
    return tx.update("UPDATE hosts SET cpu_overcommit = NULL, memory_overcommit = NULL"
        + " WHERE id = ?", hostId) == 1;
  }
}
