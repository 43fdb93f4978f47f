package org.servicefarm.controller.audit;

import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.servicefarm.api.v1.CreateTokenRequest;
import org.servicefarm.api.v1.DefineServiceRequest;
import org.servicefarm.api.v1.CollectBlobsRequest;
import org.servicefarm.api.v1.DeleteServiceRequest;
import org.servicefarm.api.v1.HostActionRequest;
import org.servicefarm.api.v1.LabelHostRequest;
import org.servicefarm.api.v1.SetHostOvercommitRequest;
import org.servicefarm.api.v1.RegisterImageRequest;
import org.servicefarm.api.v1.RequestServiceRequest;
import org.servicefarm.api.v1.RevokeTokenRequest;
import org.servicefarm.api.v1.UploadImageChunk;
import org.servicefarm.api.v1.VmActionRequest;

/**
 * The calls that change the farm, each with how to read its target from its (first) request
 * message. A request for a service is among them, but is recorded only when it created or woke a
 * VM ({@link CallAudit#changed}): the warm path changes nothing but a lease, and recording every
 * one would cost a write on the farm's busiest call.
 */
final class AuditedMethods {
  static final String REQUEST_SERVICE = "servicefarm.v1.ServiceBroker/RequestService";

  private static final Function<Object, String> VM = m -> ((VmActionRequest) m).getVmId();
  private static final Function<Object, String> HOST = m -> ((HostActionRequest) m).getHostId();

  private static final Map<String, Function<Object, String>> TARGETS = Map.ofEntries(
      Map.entry("servicefarm.v1.FarmAdmin/DefineService",
          m -> ((DefineServiceRequest) m).getDefinition().getName()),
      Map.entry("servicefarm.v1.FarmAdmin/DeleteService", m -> ((DeleteServiceRequest) m).getName()),
      Map.entry("servicefarm.v1.FarmAdmin/RegisterImage", m -> ((RegisterImageRequest) m).getName()),
      Map.entry("servicefarm.v1.FarmAdmin/UploadImage",
          m -> ((UploadImageChunk) m).getHeader().getName()),
      Map.entry("servicefarm.v1.FarmAdmin/CollectBlobs",
          m -> ((CollectBlobsRequest) m).getDryRun() ? "dry run" : "collect"),
      Map.entry("servicefarm.v1.FarmAdmin/SuspendVm", VM),
      Map.entry("servicefarm.v1.FarmAdmin/ResumeVm", VM),
      Map.entry("servicefarm.v1.FarmAdmin/ArchiveVm", VM),
      Map.entry("servicefarm.v1.FarmAdmin/RestoreVm", VM),
      Map.entry("servicefarm.v1.FarmAdmin/DeleteVm", VM),
      Map.entry("servicefarm.v1.FarmAdmin/DrainHost", HOST),
      Map.entry("servicefarm.v1.FarmAdmin/UncordonHost", HOST),
      Map.entry("servicefarm.v1.FarmAdmin/LabelHost", m -> ((LabelHostRequest) m).getHostId()),
      Map.entry("servicefarm.v1.FarmAdmin/SetHostOvercommit",
          m -> ((SetHostOvercommitRequest) m).getHostId()),
      Map.entry("servicefarm.v1.TokenAdmin/CreateToken", m -> ((CreateTokenRequest) m).getName()),
      Map.entry("servicefarm.v1.TokenAdmin/RevokeToken", m -> ((RevokeTokenRequest) m).getIdOrName()),
      Map.entry(REQUEST_SERVICE, m -> ((RequestServiceRequest) m).getService()));

  private AuditedMethods() {}

  static boolean audited(String fullMethodName) {
    return TARGETS.containsKey(fullMethodName);
  }

  /** The call's target named by its first message, printable and bounded; empty if none. */
  static String target(String fullMethodName, Object firstMessage) {
    return Optional.ofNullable(TARGETS.get(fullMethodName))
        .map(read -> AuditText.bounded(read.apply(firstMessage), AuditText.TARGET_LIMIT))
        .orElse("");
  }
}
