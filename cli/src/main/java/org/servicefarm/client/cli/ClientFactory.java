package org.servicefarm.client.cli;

import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;

/**
 * How farmctl gets its client. The product connects over the network; tests hand in a client on an
 * in-process channel so commands run against a fake server without a port.
 */
@FunctionalInterface
interface ClientFactory {
  FarmClient open(FarmClientOptions options);
}
