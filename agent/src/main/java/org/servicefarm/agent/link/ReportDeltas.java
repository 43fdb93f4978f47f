package org.servicefarm.agent.link;

import java.util.List;
import org.servicefarm.api.v1.Alive;
import org.servicefarm.api.v1.AgentMessage;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.api.v1.HostLoad;
import org.servicefarm.api.v1.LoadReport;
import org.servicefarm.api.v1.Register;

/**
 * What the controller last heard on one stream, so the next report says only what changed: an
 * {@link Alive} when nothing did, a load alone (LoadReport.inventory_unchanged) when the domains
 * and cached images are the same, the whole report otherwise. Only a controller that set
 * Registered.delta_reports gets anything but whole reports (the previous release's reads none of
 * the rest). Pure bookkeeping, no I/O.
 *
 * <p>A load counts as changed when it moved by at least {@link #CPU_POINTS} points of CPU, or
 * 1 % of the host's memory or of its free disk, or its VM count or memory total changed, against
 * the load last sent (not the last sampled: slow drift adds up and is sent once it is that far).
 * CPU use sampled every two seconds never repeats to the decimal; without a tolerance a host
 * would never be quiet.
 */
final class ReportDeltas {
  /** CPU use, in points of 0 to 100, that counts as a change of load. */
  static final double CPU_POINTS = 1.0;

  private static final AgentMessage ALIVE =
      AgentMessage.newBuilder().setAlive(Alive.getDefaultInstance()).build();

  private boolean accepted; // guarded by this
  private HostLoad load; // guarded by this; null: the next report is whole
  private List<DomainStatus> domains; // guarded by this
  private List<String> cachedImages; // guarded by this

  /** The registration sent on the stream is what the controller knows now. */
  synchronized void registered(Register register) {
    accepted = false;
    load = register.getLoad();
    domains = register.getInventoryList();
    cachedImages = register.getCachedImagesList();
  }

  /** Whether the controller's Registered said it takes delta reports. */
  synchronized void accepted(boolean deltaReports) {
    accepted = deltaReports;
  }

  /** The report to send for this sample: whole, the load alone, or Alive. */
  synchronized AgentMessage next(HostLoad sampled, List<DomainStatus> nowDomains,
      List<String> nowCached) {
    boolean sameInventory = accepted && load != null && domains.equals(nowDomains)
        && cachedImages.equals(nowCached);
    if (sameInventory && !changed(load, sampled)) {
      return ALIVE;
    }
    LoadReport.Builder report = LoadReport.newBuilder().setLoad(sampled);
    if (sameInventory) {
      report.setInventoryUnchanged(true);
    } else {
      report.addAllDomains(nowDomains).addAllCachedImages(nowCached);
    }
    return AgentMessage.newBuilder().setLoad(report).build();
  }

  /** {@code message} went out: the controller now knows what it says. */
  synchronized void sent(AgentMessage message) {
    if (!message.hasLoad()) {
      return;
    }
    LoadReport report = message.getLoad();
    load = report.getLoad();
    if (!report.getInventoryUnchanged()) {
      domains = report.getDomainsList();
      cachedImages = report.getCachedImagesList();
    }
  }

  /** A report said nothing of the domains (libvirt away): the next one is sent whole. */
  synchronized void forget() {
    load = null;
  }

  /** Whether {@code now} differs enough from {@code last} to be sent. */
  static boolean changed(HostLoad last, HostLoad now) {
    return now.getVmCount() != last.getVmCount()
        || now.getMemoryTotalMb() != last.getMemoryTotalMb()
        || Math.abs(now.getCpuPercent() - last.getCpuPercent()) >= CPU_POINTS
        || Math.abs(now.getMemoryUsedMb() - last.getMemoryUsedMb())
            >= Math.max(1, last.getMemoryTotalMb() / 100)
        || Math.abs(now.getDiskFreeMb() - last.getDiskFreeMb())
            >= Math.max(1, last.getDiskFreeMb() / 100);
  }
}
