package org.servicefarm.controller.api;

import com.google.protobuf.Timestamp;
import java.time.Instant;
import org.servicefarm.api.v1.Access;
import org.servicefarm.api.v1.BundledService;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.HostCapacity;
import org.servicefarm.api.v1.HostLoad;
import org.servicefarm.api.v1.HostStatus;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.Lease;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.Vm;
import org.servicefarm.api.v1.VmState;
import org.servicefarm.controller.db.VmListings;
import org.servicefarm.controller.model.HostRecord;
import org.servicefarm.controller.model.ImageRecord;
import org.servicefarm.controller.model.InstancePolicy;
import org.servicefarm.controller.model.LeaseRecord;
import org.servicefarm.controller.model.ServiceDefinitionRecord;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.model.VmServiceRecord;

/** Domain records to API messages. */
final class ProtoMapping {
  private ProtoMapping() {}

  static VmState state(org.servicefarm.controller.model.VmState s) {
    return VmState.valueOf("VM_STATE_" + s.name());
  }

  static VmState state(org.servicefarm.controller.model.DesiredState s) {
    return VmState.valueOf("VM_STATE_" + s.name());
  }

  static Vm vm(VmListings.VmView view) {
    VmRecord vm = view.vm();
    Vm.Builder b = Vm.newBuilder()
        .setId(vm.id().toString())
        .setDefinition(vm.definition())
        .setState(state(vm.state()))
        .setDesiredState(state(vm.desiredState()))
        .setHostId(nullToEmpty(vm.hostId()))
        .setImageId(vm.imageId().toString())
        .setGeneration(vm.generation())
        .setVcpus(vm.vcpus())
        .setMemoryMb(vm.memoryMb())
        .setFailureReason(nullToEmpty(vm.failureReason()))
        .setCreatedAt(timestamp(vm.createdAt()))
        .setUpdatedAt(timestamp(vm.updatedAt()))
        .setLeases(view.liveLeases())
        .setProject(nullToEmpty(vm.project()));
    if (view.lastUsedAt() != null) {
      b.setLastUsedAt(timestamp(view.lastUsedAt()));
    }
    for (VmServiceRecord offer : view.offers()) {
      b.addServices(offer.service());
      if (offer.hostPort() != null && view.hostAddress() != null) {
        b.addAccess(Access.newBuilder().setService(offer.service()).setHost(view.hostAddress())
            .setPort(offer.hostPort()));
      }
    }
    return b.build();
  }

  /** The host row, with the live load of its connected agent (null when not connected). */
  static Host host(HostRecord h, HostRecord.HostLoad liveLoad) {
    HostRecord.HostLoad load = liveLoad != null ? liveLoad : h.load();
    Host.Builder b = Host.newBuilder()
        .setId(h.id())
        .setStatus(HostStatus.valueOf("HOST_STATUS_" + h.status().name()))
        .setAddress(h.address())
        .setHypervisor(h.hypervisor())
        .setCapacity(HostCapacity.newBuilder().setVcpus(h.capacityVcpus())
            .setMemoryMb(h.capacityMemoryMb()).setDiskMb(h.capacityDiskMb()))
        .setLoad(HostLoad.newBuilder().setCpuPercent(load.cpuPercent())
            .setMemoryUsedMb(load.memoryUsedMb()).setMemoryTotalMb(load.memoryTotalMb())
            .setVmCount(load.vmCount()).setDiskFreeMb(load.diskFreeMb()))
        .setAllocatedVcpus(h.allocatedVcpus())
        .setAllocatedMemoryMb(h.allocatedMemoryMb())
        .setConnected(liveLoad != null)
        .putAllLabels(h.labels())
        .setCpuOvercommit(h.cpuOvercommit())
        .setMemoryOvercommit(h.memoryOvercommit());
    if (h.lastReportAt() != null) {
      b.setLastReportAt(timestamp(h.lastReportAt()));
    }
    return b.build();
  }

  static Image image(ImageRecord i) {
    return Image.newBuilder()
        .setId(i.id().toString())
        .setName(i.name())
        .setSha256(nullToEmpty(i.sha256()))
        .setSizeBytes(i.sizeBytes())
        .setFormat(i.format())
        .setSourcePath(nullToEmpty(i.sourcePath()))
        .setCreatedAt(timestamp(i.createdAt()))
        .setBuildState(i.buildState())
        .setKernelSha256(nullToEmpty(i.kernelSha256()))
        .setInitrdSha256(nullToEmpty(i.initrdSha256()))
        .setBuildError(nullToEmpty(i.buildError()))
        .setProject(nullToEmpty(i.project()))
        .build();
  }

  static ServiceDefinition definition(ServiceDefinitionRecord d, String imageName) {
    ServiceDefinition.Builder b = ServiceDefinition.newBuilder()
        .setName(d.name())
        .addAllPackages(d.packages())
        .setImage(d.packages().isEmpty() ? nullToEmpty(imageName) : "")
        .setVcpus(d.vcpus())
        .setMemoryMb(d.memoryMb())
        .setCommand(d.command())
        .setCreatedAt(timestamp(d.createdAt()))
        .setProject(nullToEmpty(d.project()))
        .setShared(d.shared());
    InstancePolicy policy = d.policy();
    b.setSleepAfterSeconds(policy.sleepAfterSeconds())
        .setArchiveAfterSeconds(policy.archiveAfterSeconds())
        .setDeleteAfterSeconds(policy.deleteAfterSeconds())
        .setMinActive(policy.minActive())
        .setMaxLeasesPerVm(policy.maxLeasesPerVm())
        .setMaxInstances(policy.maxInstances())
        .setStateless(policy.stateless());
    for (ServiceDefinitionRecord.ServicePort port : d.services()) {
      if (port.name().equals(d.name())) {
        b.setPort(port.guestPort());
      } else {
        b.addBundled(BundledService.newBuilder().setName(port.name()).setPort(port.guestPort()));
      }
    }
    return b.build();
  }

  static Lease lease(LeaseRecord l) {
    return Lease.newBuilder()
        .setId(l.id().toString())
        .setVmId(l.vmId().toString())
        .setService(l.service())
        .setExpiresAt(timestamp(l.expiresAt()))
        .setTtlSeconds(l.ttlSeconds())
        .build();
  }

  static Timestamp timestamp(Instant t) {
    if (t == null) {
      return Timestamp.getDefaultInstance();
    }
    return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
  }

  private static String nullToEmpty(String s) {
    return s == null ? "" : s;
  }
}
