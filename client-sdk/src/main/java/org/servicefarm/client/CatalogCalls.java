package org.servicefarm.client;

import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.List;
import org.servicefarm.api.v1.CollectBlobsRequest;
import org.servicefarm.api.v1.CollectBlobsResponse;
import org.servicefarm.api.v1.DefineServiceRequest;
import org.servicefarm.api.v1.DeleteServiceRequest;
import org.servicefarm.api.v1.DeleteServiceResponse;
import org.servicefarm.api.v1.FarmAdminGrpc;
import org.servicefarm.api.v1.FarmAdminGrpc.FarmAdminBlockingStub;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.ListImagesRequest;
import org.servicefarm.api.v1.ListServiceDefinitionsRequest;
import org.servicefarm.api.v1.RegisterImageRequest;
import org.servicefarm.api.v1.ServiceDefinition;

/**
 * The catalog calls of {@link FarmClient}: definitions and images. Reads are retried; defining,
 * deleting and registering are not, since the server decides what a repeat means.
 */
final class CatalogCalls {
  private final FarmAdminBlockingStub admin;
  private final UnaryCaller caller;
  private final Duration callDeadline;
  /** The token-bearing channel and the status mapping, for the client-streaming upload. */
  private final Channel channel;
  private final StatusMapper statusMapper;

  CatalogCalls(Channel channel, UnaryCaller caller, StatusMapper statusMapper,
      Duration callDeadline) {
    this.admin = FarmAdminGrpc.newBlockingStub(channel);
    this.caller = caller;
    this.callDeadline = callDeadline;
    this.channel = channel;
    this.statusMapper = statusMapper;
  }

  ServiceDefinition defineService(ServiceDefinition definition) {
    DefineServiceRequest request =
        DefineServiceRequest.newBuilder().setDefinition(definition).build();
    return caller.blocking(plan(FarmAdminGrpc.getDefineServiceMethod(), definition.getName(), false),
        deadline -> admin.withDeadline(deadline).defineService(request));
  }

  DeleteServiceResponse deleteService(String name, boolean force) {
    DeleteServiceRequest request =
        DeleteServiceRequest.newBuilder().setName(name).setForce(force).build();
    return caller.blocking(plan(FarmAdminGrpc.getDeleteServiceMethod(), name, false),
        deadline -> admin.withDeadline(deadline).deleteService(request));
  }

  List<ServiceDefinition> listServiceDefinitions() {
    return caller.blocking(plan(FarmAdminGrpc.getListServiceDefinitionsMethod(), "", true),
        deadline -> admin.withDeadline(deadline)
            .listServiceDefinitions(ListServiceDefinitionsRequest.getDefaultInstance())
            .getDefinitionsList());
  }

  Image registerImage(RegisterImageRequest request) {
    return caller.blocking(plan(FarmAdminGrpc.getRegisterImageMethod(), request.getName(), false),
        deadline -> admin.withDeadline(deadline).registerImage(request));
  }

  List<Image> listImages() {
    return caller.blocking(plan(FarmAdminGrpc.getListImagesMethod(), "", true),
        deadline -> admin.withDeadline(deadline)
            .listImages(ListImagesRequest.getDefaultInstance()).getImagesList());
  }

  CollectBlobsResponse collectBlobs(boolean dryRun) {
    // A dry run only reads, so it may be retried; a collection is not retried blindly.
    return caller.blocking(plan(FarmAdminGrpc.getCollectBlobsMethod(), "", dryRun),
        deadline -> admin.withDeadline(deadline)
            .collectBlobs(CollectBlobsRequest.newBuilder().setDryRun(dryRun).build()));
  }

  Image uploadImage(String name, String format, java.nio.file.Path file, Duration timeout)
      throws java.io.IOException {
    CallPlan plan = new CallPlan(FarmAdminGrpc.getUploadImageMethod(), name, false, timeout);
    return ImageUpload.call(channel, statusMapper, plan, name, format, file, timeout);
  }

  private CallPlan plan(MethodDescriptor<?, ?> method, String subject, boolean retried) {
    return new CallPlan(method, subject, retried, callDeadline);
  }
}
