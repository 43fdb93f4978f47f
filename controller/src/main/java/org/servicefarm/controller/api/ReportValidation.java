package org.servicefarm.controller.api;

import java.util.List;
import org.servicefarm.api.v1.DomainStatus;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.api.Validation;

/**
 * What an agent's inventory may say before anything of it is recorded or logged: a VM id that is
 * a VM id (the agent's domain metadata carries the VM's UUID), and no more domains than a host
 * can run. A report breaking either ends the stream with INVALID_ARGUMENT naming the value, as
 * every other bad field of the agent protocol does.
 */
final class ReportValidation {
  /** Far more domains than one host runs; a longer inventory is made up. */
  static final int MAX_DOMAINS = 4096;

  private ReportValidation() {}

  static void requireValid(String what, List<DomainStatus> domains) {
    if (domains.size() > MAX_DOMAINS) {
      throw new FarmException.InvalidInput(what + ": " + domains.size() + " domains, more than a"
          + " host runs (at most " + MAX_DOMAINS + ")");
    }
    for (DomainStatus domain : domains) {
      try {
        Validation.vmId(domain.getVmId());
      } catch (FarmException.InvalidInput e) {
        throw new FarmException.InvalidInput(what + ": " + e.getMessage());
      }
    }
  }
}
