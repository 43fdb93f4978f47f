package org.servicefarm.agent.hypervisor;

/** CPUs and memory of the host as its hypervisor reports them. */
public record NodeResources(int vcpus, long memoryMb) {}
