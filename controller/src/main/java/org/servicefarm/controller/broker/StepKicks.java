package org.servicefarm.controller.broker;

import java.util.UUID;

/**
 * Tells whoever drives VMs (the reconciler) to run a VM's next step now, after the broker
 * committed a change of what the VM should be. The broker's own port, so the request method can
 * be tested with a fake that plays the reconciler.
 */
@FunctionalInterface
public interface StepKicks {
  void kick(UUID vmId);
}
