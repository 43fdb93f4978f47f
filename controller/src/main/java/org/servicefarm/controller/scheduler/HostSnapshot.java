package org.servicefarm.controller.scheduler;

import java.util.Set;

/**
 * What the scheduler knows of one host at decision time.
 *
 * @param status UP, DOWN or DRAINING
 * @param connected whether the host's agent holds a stream to this controller now
 * @param cpuPercent the host's reported CPU use, 0 to 100
 */
public record HostSnapshot(
    String id,
    String status,
    boolean connected,
    int capacityVcpus,
    long capacityMemoryMb,
    int allocatedVcpus,
    long allocatedMemoryMb,
    double cpuPercent,
    Set<String> cachedImages) {}
