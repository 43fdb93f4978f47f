package org.servicefarm.e2e.support;

import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * Reads a farm's tables straight from PostgreSQL, for tests that check what was committed:
 * leases, VMs and events are the farm's record, and which controller leads is not in the API.
 */
public final class FarmTables {
  private final String url;
  private final String user;

  public FarmTables(String url, String user) {
    this.url = url;
    this.user = user;
  }

  /** Each VM's VM_STATE events checked as a chain: how many events, and the VMs that break it. */
  public record EventCheck(long checked, List<String> broken) {}

  /** The leadership epoch, or -1 while the database cannot be reached. */
  public long leaderEpoch() {
    try (Connection c = connect();
        PreparedStatement s = c.prepareStatement(
            "SELECT epoch FROM controller_leadership WHERE id = 1");
        ResultSet rs = s.executeQuery()) {
      return rs.next() ? rs.getLong(1) : 0;
    } catch (SQLException unreachable) {
      return -1;
    }
  }

  /** How many of these lease ids are in the leases table. */
  public long countLeases(List<String> leaseIds) throws SQLException {
    return countIds("SELECT count(*) FROM leases WHERE id = ANY (?)", leaseIds);
  }

  /** How many of these VMs exist and are neither deleted nor failed. */
  public long countLiveVms(List<String> vmIds) throws SQLException {
    return countIds("SELECT count(*) FROM vms WHERE id = ANY (?)"
        + " AND state NOT IN ('DELETED', 'FAILED')", vmIds);
  }

  /** Idempotency keys that hold more than one lease. */
  public long keysWithSeveralLeases() throws SQLException {
    return single("SELECT count(*) FROM (SELECT idempotency_key FROM leases"
        + " WHERE idempotency_key IS NOT NULL GROUP BY idempotency_key HAVING count(*) > 1) k");
  }

  /** Definitions with more than one VM that is neither deleted nor failed. */
  public long definitionsWithSeveralLiveVms() throws SQLException {
    return single("SELECT count(*) FROM (SELECT definition FROM vms"
        + " WHERE state NOT IN ('DELETED', 'FAILED') GROUP BY definition HAVING count(*) > 1) d");
  }

  /**
   * Every VM's state events, in order, must form one chain: each starts where the previous one
   * ended, and the last ends in the VM's state now. A lost event leaves a gap; an event written
   * twice repeats a transition, which starts where the chain no longer is.
   */
  public EventCheck checkEventChains() throws SQLException {
    List<String> broken = new ArrayList<>();
    long checked = 0;
    try (Connection c = connect();
        PreparedStatement s = c.prepareStatement("SELECT v.id, v.state, e.from_state,"
            + " e.to_state FROM vms v JOIN events e ON e.vm_id = v.id AND e.kind = 'VM_STATE'"
            + " ORDER BY v.id, e.id");
        ResultSet rs = s.executeQuery()) {
      String vm = null;
      String vmState = null;
      String at = null;
      while (rs.next()) {
        checked++;
        String id = rs.getString(1);
        if (!id.equals(vm)) {
          if (vm != null && !Objects.equals(at, vmState)) {
            broken.add(vm + ": events end in " + at + ", the VM is " + vmState);
          }
          vm = id;
          vmState = rs.getString(2);
          at = null;
        }
        String from = rs.getString(3);
        if (at != null && !Objects.equals(from, at)) {
          broken.add(vm + ": an event from " + from + " follows one that ended in " + at);
        }
        at = rs.getString(4);
      }
      if (vm != null && !Objects.equals(at, vmState)) {
        broken.add(vm + ": events end in " + at + ", the VM is " + vmState);
      }
    }
    return new EventCheck(checked, broken);
  }

  private long countIds(String sql, List<String> ids) throws SQLException {
    try (Connection c = connect(); PreparedStatement s = c.prepareStatement(sql)) {
      Array array = c.createArrayOf("uuid", ids.stream().map(UUID::fromString).toArray());
      s.setArray(1, array);
      try (ResultSet rs = s.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  private long single(String sql) throws SQLException {
    try (Connection c = connect(); PreparedStatement s = c.prepareStatement(sql);
        ResultSet rs = s.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private Connection connect() throws SQLException {
    return DriverManager.getConnection(url, user, "");
  }
}
