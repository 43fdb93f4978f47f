package org.servicefarm.controller.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.ListImagesRequest;
import org.servicefarm.api.v1.DefineServiceRequest;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.UploadImageChunk;
import org.servicefarm.api.v1.UploadImageHeader;
import java.util.List;
import org.servicefarm.api.v1.BundledService;

/**
 * OCI image archives uploaded and used by definitions, over in-process gRPC on a real PostgreSQL:
 * the image's entrypoint, cmd and exposed ports become a definition's unless it gives its own,
 * and an archive that would unpack outside its root is refused before anything is registered.
 */
class OciImageDefinitionTest extends InProcessControllerFixture {
  private byte[] webArchive(List<OciTestArchives.Entry> entries) throws IOException {
    byte[] layer = OciTestArchives.layer(entries);
    Path archive = OciTestArchives.layout(dataDir.resolve("web-oci.tar"),
        OciTestArchives.config(List.of("/bin/busybox", "httpd"), List.of("-f", "-p", "8080"),
            List.of("8080/tcp", "9090/tcp"), List.of(layer)), List.of(layer));
    return Files.readAllBytes(archive);
  }

  private Image uploadWeb() throws Exception {
    byte[] bytes = webArchive(List.of(OciTestArchives.Entry.dir("srv"),
        OciTestArchives.Entry.file("srv/index.html", "hello")));
    return upload("web-oci", "oci", bytes.length, "", bytes).get(10, TimeUnit.SECONDS);
  }

  @Test
  void definitionFromAnOciImageTakesItsEntrypointCmdAndExposedPorts() throws Exception {
    Image image = uploadWeb();
    assertEquals("oci", image.getFormat());
    assertEquals("READY", image.getBuildState());

    ServiceDefinition web = admin.defineService(DefineServiceRequest.newBuilder()
        .setDefinition(ServiceDefinition.newBuilder().setName("web").setImage("web-oci")).build());

    assertEquals("/bin/busybox httpd -f -p 8080", web.getCommand());
    assertEquals(8080, web.getPort());
    assertEquals(List.of(BundledService.newBuilder().setName("web-9090").setPort(9090).build()),
        web.getBundledList());
    // The archive is never booted: the definition uses an image built from it on first use.
    List<Image> images = admin.listImages(ListImagesRequest.getDefaultInstance()).getImagesList();
    assertEquals(2, images.size(), images.toString());
    Image built = images.stream().filter(i -> i.getName().startsWith("oci-")).findFirst()
        .orElseThrow();
    assertEquals("PENDING", built.getBuildState());
    assertEquals("web-oci", admin.listServiceDefinitions(
        org.servicefarm.api.v1.ListServiceDefinitionsRequest.getDefaultInstance())
        .getDefinitions(0).getImage(), "listed by the image it was defined with");
  }

  @Test
  void definitionGivingItsCommandAndPortKeepsThemAndGetsAnImageOfItsOwn() throws Exception {
    uploadWeb();
    admin.defineService(DefineServiceRequest.newBuilder()
        .setDefinition(ServiceDefinition.newBuilder().setName("web").setImage("web-oci")).build());
    ServiceDefinition other = admin.defineService(DefineServiceRequest.newBuilder()
        .setDefinition(ServiceDefinition.newBuilder().setName("other").setImage("web-oci")
            .setPort(81).setCommand("/bin/busybox httpd -f -p 81")).build());

    assertEquals("/bin/busybox httpd -f -p 81", other.getCommand());
    assertEquals(81, other.getPort());
    assertEquals(0, other.getBundledCount());
    assertEquals(3, admin.listImages(ListImagesRequest.getDefaultInstance()).getImagesCount(),
        "another command is another image built from the same archive");
  }

  @Test
  void archiveWithALayerClimbingOutOfItsRootIsRefusedAtUpload() throws Exception {
    byte[] bytes = webArchive(List.of(OciTestArchives.Entry.file("../../etc/cron.d/x", "evil")));

    StatusRuntimeException e = failure(upload("evil", "oci", bytes.length, "", bytes));

    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("'../../etc/cron.d/x', which climbs out"),
        e.getStatus().getDescription());
    assertEquals(0, admin.listImages(ListImagesRequest.getDefaultInstance()).getImagesCount());
  }

  private CompletableFuture<Image> upload(String name, String format, long size, String sha,
      byte[] bytes) {
    CompletableFuture<Image> result = new CompletableFuture<>();
    StreamObserver<UploadImageChunk> out = adminAsync.uploadImage(new StreamObserver<>() {
      @Override
      public void onNext(Image image) {
        result.complete(image);
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    });
    out.onNext(UploadImageChunk.newBuilder().setHeader(UploadImageHeader.newBuilder()
        .setName(name).setFormat(format).setSizeBytes(size).setSha256(sha)).build());
    for (int at = 0; at < bytes.length; at += 100_000) {
      out.onNext(UploadImageChunk.newBuilder().setData(ByteString.copyFrom(bytes, at,
          Math.min(100_000, bytes.length - at))).build());
    }
    out.onCompleted();
    return result;
  }

  private static StatusRuntimeException failure(CompletableFuture<Image> result) {
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> result.get(10, TimeUnit.SECONDS));
    return (StatusRuntimeException) e.getCause();
  }
}
