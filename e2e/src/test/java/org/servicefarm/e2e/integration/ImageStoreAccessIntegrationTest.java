package org.servicefarm.e2e.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.BlobInfo;
import org.servicefarm.api.v1.FetchBlobRequest;
import org.servicefarm.api.v1.ImageStoreGrpc;
import org.servicefarm.api.v1.PutBlobChunk;
import org.servicefarm.api.v1.PutBlobHeader;
import org.servicefarm.api.v1.StatBlobRequest;
import org.servicefarm.controller.images.ImageSettings;
import org.servicefarm.e2e.support.InProcessFarm;

/**
 * The image store holds every image and every VM's archive: without an agent's client
 * certificate or an admin token nobody may put or fetch a blob (in plaintext, where any local
 * user could otherwise call it), and what it holds is bounded by its quota.
 */
class ImageStoreAccessIntegrationTest {
  private static final long QUOTA_BYTES = 4L << 20;
  private static InProcessFarm farm;
  private static String storedDigest;

  @BeforeAll
  static void start() throws Exception {
    farm = new InProcessFarm(InProcessFarm.fastConfig()
        .withImages(ImageSettings.defaults().withStoreQuotaBytes(QUOTA_BYTES)));
    storedDigest = put(withToken(farm.adminToken()), "an image's bytes".getBytes()).getSha256();
  }

  @AfterAll
  static void stop() throws Exception {
    farm.close();
  }

  private static ImageStoreGrpc.ImageStoreStub withToken(String token) {
    ImageStoreGrpc.ImageStoreStub stub = ImageStoreGrpc.newStub(farm.channel());
    if (token == null) {
      return stub;
    }
    return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers(token)));
  }

  /** PutBlob of the bytes, declared with their digest and length. */
  private static BlobInfo put(ImageStoreGrpc.ImageStoreStub stub, byte[] bytes) throws Exception {
    return put(stub, sha256(bytes), bytes.length, bytes);
  }

  private static BlobInfo put(ImageStoreGrpc.ImageStoreStub stub, String sha, long declared,
      byte[] bytes) throws Exception {
    CompletableFuture<BlobInfo> answer = new CompletableFuture<>();
    StreamObserver<PutBlobChunk> out = stub.putBlob(new StreamObserver<>() {
      @Override
      public void onNext(BlobInfo info) {
        answer.complete(info);
      }

      @Override
      public void onError(Throwable t) {
        answer.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        answer.complete(null);
      }
    });
    out.onNext(PutBlobChunk.newBuilder().setHeader(PutBlobHeader.newBuilder().setSha256(sha)
        .setSizeBytes(declared)).build());
    out.onNext(PutBlobChunk.newBuilder().setData(ByteString.copyFrom(bytes)).build());
    out.onCompleted();
    try {
      return answer.get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw (Exception) e.getCause();
    }
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  private static Status.Code codeOf(Exception e) {
    return Status.fromThrowable(e).getCode();
  }

  @Test
  void aPutBlobWithoutCertificateOrTokenIsRefusedSayingWhatItNeeds() {
    StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
        () -> put(withToken(null), "planted".getBytes()));
    assertEquals(Status.Code.UNAUTHENTICATED, refused.getStatus().getCode());
    assertTrue(refused.getStatus().getDescription().contains("client certificate"),
        refused.getStatus().getDescription());
    assertTrue(refused.getStatus().getDescription().contains("admin bearer token"),
        refused.getStatus().getDescription());
  }

  @Test
  void aFetchOrStatOfAKnownDigestWithoutCertificateOrTokenIsRefused() {
    ImageStoreGrpc.ImageStoreBlockingStub anonymous =
        ImageStoreGrpc.newBlockingStub(farm.channel());
    StatusRuntimeException fetch = assertThrows(StatusRuntimeException.class,
        () -> anonymous.fetchBlob(FetchBlobRequest.newBuilder().setSha256(storedDigest).build())
            .hasNext());
    assertEquals(Status.Code.UNAUTHENTICATED, fetch.getStatus().getCode());
    StatusRuntimeException stat = assertThrows(StatusRuntimeException.class,
        () -> anonymous.statBlob(StatBlobRequest.newBuilder().setSha256(storedDigest).build()));
    assertEquals(Status.Code.UNAUTHENTICATED, stat.getStatus().getCode());
  }

  @Test
  void aClientTokenIsNotEnoughForTheImageStore() throws Exception {
    String client = farm.client().tokens().create("store-client", "client").getSecret();
    Exception refused = assertThrows(Exception.class,
        () -> put(withToken(client), "planted".getBytes()));
    assertEquals(Status.Code.PERMISSION_DENIED, codeOf(refused));
  }

  @Test
  void anUploadBeyondTheStoreQuotaIsRefusedNamingTheQuota() throws Exception {
    byte[] big = new byte[(int) QUOTA_BYTES];
    Exception refused = assertThrows(Exception.class,
        () -> put(withToken(farm.adminToken()), sha256(big), big.length, new byte[0]));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, codeOf(refused));
    assertTrue(refused.getMessage().contains("quota of " + QUOTA_BYTES), refused.getMessage());
    // What fits is still taken.
    assertEquals(3, put(withToken(farm.adminToken()), "fit".getBytes()).getSizeBytes());
  }

  @Test
  void anAdminTokenReachesTheStore() throws Exception {
    ImageStoreGrpc.ImageStoreBlockingStub admin = ImageStoreGrpc.newBlockingStub(farm.channel())
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers(farm.adminToken())));
    assertEquals(List.of("an image's bytes"), List.of(admin.fetchBlob(FetchBlobRequest
        .newBuilder().setSha256(storedDigest).build()).next().getData().toStringUtf8()));
  }

  private static Metadata headers(String token) {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
        "Bearer " + token);
    return headers;
  }
}
