package org.servicefarm.agent.hypervisor.libvirt;

import org.libvirt.DomainInfo.DomainState;
import org.servicefarm.api.v1.PowerState;

/** Maps libvirt's domain states onto the farm's power states. */
final class DomainPowerStates {

  private DomainPowerStates() {}

  /**
   * @param hasManagedSave whether the domain has a managed save image; only consulted when it is
   *     shut off, where the image is what makes it a sleeping (SAVED) VM
   */
  static PowerState powerState(DomainState state, boolean hasManagedSave) {
    if (state == null) {
      return PowerState.POWER_STATE_UNSPECIFIED;
    }
    return switch (state) {
      // BLOCKED means running but waiting on I/O; SHUTDOWN means still running while it stops.
      case VIR_DOMAIN_RUNNING, VIR_DOMAIN_BLOCKED, VIR_DOMAIN_SHUTDOWN ->
          PowerState.POWER_STATE_RUNNING;
      case VIR_DOMAIN_PAUSED -> PowerState.POWER_STATE_PAUSED;
      case VIR_DOMAIN_SHUTOFF ->
          hasManagedSave ? PowerState.POWER_STATE_SAVED : PowerState.POWER_STATE_SHUT_OFF;
      case VIR_DOMAIN_CRASHED -> PowerState.POWER_STATE_CRASHED;
      case VIR_DOMAIN_NOSTATE -> PowerState.POWER_STATE_UNSPECIFIED;
    };
  }
}
