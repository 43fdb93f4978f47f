package org.servicefarm.controller.operations;

import java.util.UUID;

/**
 * What a request that succeeded answers: where its service is reached.
 *
 * @param leaseId the lease the request holds on the VM; null when it holds none
 */
public record OperationResult(UUID vmId, String service, String host, int port, boolean created,
    UUID leaseId) {}
