package org.servicefarm.controller.model;

import java.util.UUID;

/** One row of {@code vm_services}: a service a VM offers and the host port reaching it. */
public record VmServiceRecord(UUID vmId, String service, int guestPort, Integer hostPort) {}
