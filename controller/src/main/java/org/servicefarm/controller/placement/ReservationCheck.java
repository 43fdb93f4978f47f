package org.servicefarm.controller.placement;

import java.sql.SQLException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.ReservationRepository;
import org.servicefarm.controller.db.ReservationRepository.Reserved;
import org.servicefarm.controller.model.HostRecord;

/**
 * Keeps projects' reservations for them: a placement for one project may use the farm's free
 * room only as far as the unused part of other projects' reservations stays free. The farm's free
 * room is summed over hosts that are UP, so a reservation is a promise of room somewhere on the
 * farm, not on a given host.
 *
 * <p>While any project reserves anything, placements take the reservation lock (held until
 * their transaction commits), so each sees the room the one before took; a farm without
 * reservations pays one small read.
 */
public final class ReservationCheck {
  /**
   * By how much the farm falls short of room for the VM and the others' unused reservations
   * (zero or less: no shortfall), and what those reservations are, for people.
   */
  public record FarmShortfall(int vcpus, long memoryMb, String reservations) {
    public static final FarmShortfall NONE = new FarmShortfall(0, 0, "");

    public boolean isShort() {
      return vcpus > 0 || memoryMb > 0;
    }
  }

  private final ReservationRepository reservations;
  private final HostRepository hosts;
  private final double cpuOvercommit;

  public ReservationCheck(ReservationRepository reservations, HostRepository hosts,
      double cpuOvercommit) {
    this.reservations = reservations;
    this.hosts = hosts;
    this.cpuOvercommit = cpuOvercommit;
  }

  /** The farm's shortfall for a VM of {@code project}, under the reservation lock if needed. */
  public FarmShortfall shortfall(Database.Tx tx, String project, PlacementRequest request)
      throws SQLException {
    if (reservations.all(tx).isEmpty()) {
      return FarmShortfall.NONE;
    }
    reservations.lock(tx);
    // Read again after the lock: a statement's snapshot predates a lock it takes.
    List<Reserved> others = reservations.all(tx).stream()
        .filter(r -> !r.project().equals(project)
            && (r.unusedVcpus() > 0 || r.unusedMemoryMb() > 0))
        .toList();
    if (others.isEmpty()) {
      return FarmShortfall.NONE;
    }
    long freeVcpus = 0;
    long freeMemory = 0;
    for (HostRecord h : hosts.list(tx)) {
      if (h.status() == HostRecord.HostStatus.UP) {
        // Each host's own overcommit ratios, as the placement filters count its room.
        double cpuRatio = h.cpuOvercommit() > 0 ? h.cpuOvercommit() : cpuOvercommit;
        double memoryRatio = h.memoryOvercommit() > 0 ? h.memoryOvercommit() : 1.0;
        freeVcpus += Math.max(0, (long) Math.floor(h.capacityVcpus() * cpuRatio)
            - h.allocatedVcpus());
        freeMemory += Math.max(0, (long) (h.capacityMemoryMb() * memoryRatio)
            - h.allocatedMemoryMb());
      }
    }
    long unusedVcpus = others.stream().mapToLong(Reserved::unusedVcpus).sum();
    long unusedMemory = others.stream().mapToLong(Reserved::unusedMemoryMb).sum();
    StringBuilder named = new StringBuilder();
    for (Reserved r : others) {
      named.append(named.length() == 0 ? "" : ", ").append("project '").append(r.project())
          .append("' reserves ").append(r.vcpus()).append(" vCPUs and ").append(r.memoryMb())
          .append(" MB (").append(r.unusedVcpus()).append(" vCPUs and ")
          .append(r.unusedMemoryMb()).append(" MB unused)");
    }
    String why = "the farm's free room (" + freeVcpus + " vCPUs, " + freeMemory
        + " MB) less the unused part of other projects' reservations (" + named
        + ") leaves too little for a VM with " + request.vcpus() + " vCPU and "
        + request.memoryMb() + " MB of project '" + project + "'";
    return new FarmShortfall((int) Math.min(Integer.MAX_VALUE,
            request.vcpus() + unusedVcpus - freeVcpus),
        request.memoryMb() + unusedMemory - freeMemory, why);
  }

  /**
   * What reclaim for {@code project} may archive of each other reserving project's VMs: their use
   * above their reservation. Projects that reserve nothing are absent (no limit).
   */
  public Map<String, ReclaimPlan.Spare> spare(Database.Tx tx, String project)
      throws SQLException {
    Map<String, ReclaimPlan.Spare> spare = new HashMap<>();
    for (Reserved r : reservations.all(tx)) {
      if (!r.project().equals(project)) {
        spare.put(r.project(), new ReclaimPlan.Spare(Math.max(0, r.usedVcpus() - r.vcpus()),
            Math.max(0, r.usedMemoryMb() - r.memoryMb())));
      }
    }
    return spare;
  }
}
