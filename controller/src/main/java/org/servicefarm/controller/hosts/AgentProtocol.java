package org.servicefarm.controller.hosts;

import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.HostRecord.HostLoad;

/**
 * The versions of the agent protocol this controller speaks, checked when an agent registers.
 *
 * <p>Version 1 is the protocol before Register carried a version (such an agent sends 0). Version
 * 2 adds the version itself, InstallVm.keep_disk, CommandResult.notice and new_disk,
 * DomainStatus.disk_missing, LoadReport.domains_unknown and two CommandError values; an agent of
 * version 1 ignores the fields it does not know and never sends the new ones, which this
 * controller reads as their defaults, so it stays supported. A change an older peer cannot ignore
 * (a field whose absence would be misread) bumps {@link #CURRENT}, and {@link #OLDEST} moves up
 * once no supported agent speaks the older version.
 */
public final class AgentProtocol {
  private static final java.util.logging.Logger LOG =
      java.util.logging.Logger.getLogger(AgentProtocol.class.getName());

  /** The version this controller speaks. */
  public static final int CURRENT = 2;
  /** The oldest version this controller still accepts. */
  public static final int OLDEST = 1;

  private AgentProtocol() {}

  /** The version an agent speaks: 0 on the wire means an agent from before the field, 1. */
  static int spokenBy(int onTheWire) {
    return onTheWire == 0 ? 1 : onTheWire;
  }

  /**
   * Refuses an agent outside [OLDEST, CURRENT], naming both versions and what to upgrade.
   *
   * @throws FarmException.Conflict for such an agent (logged: the operator must upgrade)
   */
  public static void requireSupported(String hostId, String agentVersion, int onTheWire) {
    int spoken = spokenBy(onTheWire);
    if (spoken < OLDEST || spoken > CURRENT) {
      String upgrade = spoken > CURRENT
          ? "upgrade the controllers before the agents"
          : "upgrade this agent";
      FarmException refusal = new FarmException.Conflict("agent of host " + hostId + " ("
          + describe(agentVersion) + ") speaks agent protocol " + spoken
          + ", but this controller speaks " + OLDEST + " to " + CURRENT + ": " + upgrade);
      LOG.warning(refusal.getMessage());
      throw refusal;
    }
  }

  private static String describe(String agentVersion) {
    return agentVersion.isEmpty() ? "version unknown" : "version " + agentVersion;
  }

  /** A load report as the hosts table holds it. */
  public static HostLoad load(org.servicefarm.api.v1.HostLoad l) {
    return new HostLoad(l.getCpuPercent(), l.getMemoryUsedMb(), l.getMemoryTotalMb(),
        l.getVmCount(), l.getDiskFreeMb());
  }
}
