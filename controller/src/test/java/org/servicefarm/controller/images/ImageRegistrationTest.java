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
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.ListImagesRequest;
import org.servicefarm.api.v1.RegisterImageRequest;
import org.servicefarm.api.v1.UploadImageChunk;
import org.servicefarm.api.v1.UploadImageHeader;
import org.servicefarm.diskimage.Qcow2Bytes;

/** RegisterImage and UploadImage over in-process gRPC on a real PostgreSQL. */
class ImageRegistrationTest extends InProcessControllerFixture {
  @Test
  void registeringAFileByPathStoresItAndTheImageIsReadyWithItsDigest() throws IOException {
    byte[] bytes = Qcow2Bytes.plain(1L << 30, 300_000);
    Path file = importDir.resolve("debian.qcow2");
    Files.write(file, bytes);

    Image image = admin.registerImage(RegisterImageRequest.newBuilder().setName("debian-12")
        .setSourcePath(file.toString()).build());

    assertEquals("READY", image.getBuildState());
    assertEquals(TestBytes.sha256(bytes), image.getSha256());
    assertEquals(bytes.length, image.getSizeBytes());
    assertEquals("qcow2", image.getFormat());
    assertEquals(Optional.of(new BlobStore.BlobInfo(image.getSha256(), bytes.length)),
        blobs.stat(image.getSha256()));
    assertEquals(image, admin.listImages(ListImagesRequest.getDefaultInstance()).getImages(0));
  }

  @Test
  void aWrongDeclaredDigestIsRefusedNamingBothAndNothingIsRegistered() throws IOException {
    byte[] bytes = TestBytes.random(1000, 2);
    Path file = importDir.resolve("debian.raw");
    Files.write(file, bytes);
    String declared = "f".repeat(64);

    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () ->
        admin.registerImage(RegisterImageRequest.newBuilder().setName("debian-12").setFormat("raw")
            .setSha256(declared).setSourcePath(file.toString()).build()));

    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains(declared), e.getStatus().getDescription());
    assertTrue(e.getStatus().getDescription().contains(TestBytes.sha256(bytes)),
        e.getStatus().getDescription());
    assertEquals(0, admin.listImages(ListImagesRequest.getDefaultInstance()).getImagesCount());
  }

  @Test
  void registeringAMissingFileOrATakenNameIsRefused() throws IOException {
    StatusRuntimeException missing = assertThrows(StatusRuntimeException.class, () ->
        admin.registerImage(RegisterImageRequest.newBuilder().setName("a")
            .setSourcePath(importDir.resolve("disk.qcow2").toString()).build()));
    assertEquals(Status.Code.NOT_FOUND, missing.getStatus().getCode());
    assertTrue(missing.getStatus().getDescription().contains(importDir + "/disk.qcow2"));

    Path file = importDir.resolve("a.raw");
    Files.write(file, new byte[] {1});
    RegisterImageRequest req = RegisterImageRequest.newBuilder().setName("a").setFormat("raw")
        .setSourcePath(file.toString()).build();
    admin.registerImage(req);
    assertEquals(Status.Code.FAILED_PRECONDITION, assertThrows(StatusRuntimeException.class,
        () -> admin.registerImage(req)).getStatus().getCode());
  }

  @Test
  void anUploadedImageIsReadyWithTheDigestOfItsBytes() throws Exception {
    byte[] bytes = TestBytes.random(2_000_000, 3);

    Image image = upload("uploaded", bytes.length, TestBytes.sha256(bytes), bytes)
        .get(10, TimeUnit.SECONDS);

    assertEquals("READY", image.getBuildState());
    assertEquals(TestBytes.sha256(bytes), image.getSha256());
    assertEquals(bytes.length, image.getSizeBytes());
    assertTrue(blobs.stat(image.getSha256()).isPresent());
  }

  @Test
  void anUploadNotMatchingItsDeclaredDigestIsRefusedNamingBoth() {
    byte[] bytes = TestBytes.random(500_000, 4);
    String declared = TestBytes.sha256(new byte[] {42});

    StatusRuntimeException e = failure(upload("uploaded", bytes.length, declared, bytes));

    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains(declared), e.getStatus().getDescription());
    assertTrue(e.getStatus().getDescription().contains(TestBytes.sha256(bytes)),
        e.getStatus().getDescription());
    assertEquals(0, admin.listImages(ListImagesRequest.getDefaultInstance()).getImagesCount());
    assertEquals(Optional.empty(), blobs.stat(TestBytes.sha256(bytes)));
  }

  @Test
  void anUploadLongerThanTheStoreTakesIsRefusedAtTheHeader() {
    StatusRuntimeException e = failure(upload("huge", 20_000_000, "", new byte[10]));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("20000000"), e.getStatus().getDescription());
  }

  @Test
  void anUploadShorterThanDeclaredIsRefused() {
    StatusRuntimeException e = failure(upload("short", 1000, "", new byte[999]));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("received 999"),
        e.getStatus().getDescription());
  }

  private CompletableFuture<Image> upload(String name, long size, String sha, byte[] bytes) {
    return upload(name, "raw", size, sha, bytes);
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
