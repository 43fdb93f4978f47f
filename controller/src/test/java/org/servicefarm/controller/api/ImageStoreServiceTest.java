package org.servicefarm.controller.api;

import org.servicefarm.controller.images.TestBytes;
import org.servicefarm.controller.images.BlobStore;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.servicefarm.api.v1.BlobChunk;
import org.servicefarm.api.v1.BlobInfo;
import org.servicefarm.api.v1.FetchBlobRequest;
import org.servicefarm.api.v1.ImageStoreGrpc;
import org.servicefarm.api.v1.PutBlobChunk;
import org.servicefarm.api.v1.PutBlobHeader;
import org.servicefarm.api.v1.StatBlobRequest;
import org.servicefarm.controller.api.StatusMapper;

/** The image store over in-process gRPC, with the interceptor the controller serves it with. */
class ImageStoreServiceTest {
  @TempDir
  Path dataDir;
  private BlobStore store;
  private Server server;
  private ManagedChannel channel;
  private ImageStoreGrpc.ImageStoreBlockingStub blocking;
  private ImageStoreGrpc.ImageStoreStub async;

  @BeforeEach
  void serve() throws IOException {
    store = new BlobStore(dataDir);
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(new ImageStoreService(store), new StatusMapper()))
        .build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    blocking = ImageStoreGrpc.newBlockingStub(channel);
    async = ImageStoreGrpc.newStub(channel);
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    server.shutdownNow();
  }

  @Test
  void fetchFromAnOffsetReturnsExactlyTheRemainingBytes() {
    byte[] bytes = TestBytes.random(3_000_000, 1);
    String sha = store.put(new ByteArrayInputStream(bytes), null, -1).sha256();

    long offset = 1_234_567;
    List<BlobChunk> chunks = fetch(sha, offset);
    assertEquals(offset, chunks.get(0).getOffset());
    assertArrayEquals(Arrays.copyOfRange(bytes, (int) offset, bytes.length), concat(chunks));
    chunks.forEach(c -> assertEquals(bytes.length, c.getTotalSize()));
  }

  @Test
  void aFiveMegabyteBlobStreamsInSeveralChunksOfAtMostOneMebibyte() {
    byte[] bytes = TestBytes.random(5_000_000, 2);
    String sha = store.put(new ByteArrayInputStream(bytes), null, -1).sha256();

    List<BlobChunk> chunks = fetch(sha, 0);
    assertEquals(5, chunks.size());
    long expectedOffset = 0;
    for (BlobChunk c : chunks) {
      assertEquals(expectedOffset, c.getOffset());
      assertTrue(c.getData().size() <= ImageStoreService.CHUNK_BYTES);
      expectedOffset += c.getData().size();
    }
    assertArrayEquals(bytes, concat(chunks));
  }

  @Test
  void fetchSendsOnlyWhatTheClientAskedFor() throws Exception {
    byte[] bytes = TestBytes.random(5_000_000, 3);
    String sha = store.put(new ByteArrayInputStream(bytes), null, -1).sha256();
    LinkedBlockingQueue<BlobChunk> received = new LinkedBlockingQueue<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    CompletableFuture<ClientCallStreamObserver<FetchBlobRequest>> call = new CompletableFuture<>();
    async.fetchBlob(FetchBlobRequest.newBuilder().setSha256(sha).build(),
        new ClientResponseObserver<FetchBlobRequest, BlobChunk>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<FetchBlobRequest> requestStream) {
            requestStream.disableAutoRequestWithInitial(1);
            call.complete(requestStream);
          }

          @Override
          public void onNext(BlobChunk chunk) {
            received.add(chunk);
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            done.complete(null);
          }
        });
    assertEquals(0, received.poll(5, TimeUnit.SECONDS).getOffset());
    // A slow reader holds the server back: nothing more arrives until it asks.
    assertEquals(null, received.poll(300, TimeUnit.MILLISECONDS));
    call.get().request(100);
    done.get(10, TimeUnit.SECONDS);
    assertEquals(4, received.size());
  }

  @Test
  void unknownDigestIsNotFoundAndABadOneOrOffsetIsInvalid() {
    String unknown = "0".repeat(64);
    StatusRuntimeException missing = assertThrows(StatusRuntimeException.class,
        () -> fetch(unknown, 0));
    assertEquals(Status.Code.NOT_FOUND, missing.getStatus().getCode());
    assertTrue(missing.getStatus().getDescription().contains(unknown));
    assertEquals(Status.Code.NOT_FOUND, assertThrows(StatusRuntimeException.class,
        () -> blocking.statBlob(StatBlobRequest.newBuilder().setSha256(unknown).build()))
        .getStatus().getCode());

    assertEquals(Status.Code.INVALID_ARGUMENT, assertThrows(StatusRuntimeException.class,
        () -> fetch("not-a-digest", 0)).getStatus().getCode());
    String sha = store.put(new ByteArrayInputStream(new byte[100]), null, -1).sha256();
    StatusRuntimeException past = assertThrows(StatusRuntimeException.class, () -> fetch(sha, 101));
    assertEquals(Status.Code.INVALID_ARGUMENT, past.getStatus().getCode());
    assertEquals(0, fetch(sha, 100).size());
  }

  @Test
  void putStoresTheBlobAndStatFindsIt() throws Exception {
    byte[] bytes = TestBytes.random(2_500_000, 4);
    String sha = TestBytes.sha256(bytes);

    BlobInfo info = put(sha, bytes.length, bytes).get(10, TimeUnit.SECONDS);
    assertEquals(sha, info.getSha256());
    assertEquals(bytes.length, info.getSizeBytes());
    assertEquals(info, blocking.statBlob(StatBlobRequest.newBuilder().setSha256(sha).build()));
    assertArrayEquals(bytes, concat(fetch(sha, 0)));
  }

  @Test
  void putWhoseBytesDoNotMatchTheDigestIsRefusedNamingBothAndLeavesNoBlob() throws Exception {
    byte[] bytes = TestBytes.random(1_500_000, 5);
    String declared = TestBytes.sha256(TestBytes.random(1_500_000, 6));

    CompletableFuture<BlobInfo> result = put(declared, bytes.length, bytes);
    StatusRuntimeException e = (StatusRuntimeException) assertThrows(Exception.class,
        () -> result.get(10, TimeUnit.SECONDS)).getCause();
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains(declared), e.getStatus().getDescription());
    assertTrue(e.getStatus().getDescription().contains(TestBytes.sha256(bytes)),
        e.getStatus().getDescription());
    assertEquals(Optional.empty(), store.stat(declared));
    assertEquals(Optional.empty(), store.stat(TestBytes.sha256(bytes)));
  }

  @Test
  void putWithDataBeforeTheHeaderIsRefused() {
    CompletableFuture<BlobInfo> result = new CompletableFuture<>();
    StreamObserver<PutBlobChunk> out = async.putBlob(observe(result));
    out.onNext(PutBlobChunk.newBuilder().setData(ByteString.copyFrom(new byte[10])).build());
    out.onCompleted();
    StatusRuntimeException e = (StatusRuntimeException) assertThrows(Exception.class,
        () -> result.get(10, TimeUnit.SECONDS)).getCause();
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
  }

  private List<BlobChunk> fetch(String sha, long offset) {
    List<BlobChunk> chunks = new ArrayList<>();
    Iterator<BlobChunk> it = blocking.fetchBlob(
        FetchBlobRequest.newBuilder().setSha256(sha).setOffset(offset).build());
    it.forEachRemaining(chunks::add);
    return chunks;
  }

  private CompletableFuture<BlobInfo> put(String sha, long size, byte[] bytes) {
    CompletableFuture<BlobInfo> result = new CompletableFuture<>();
    StreamObserver<PutBlobChunk> out = async.putBlob(observe(result));
    out.onNext(PutBlobChunk.newBuilder()
        .setHeader(PutBlobHeader.newBuilder().setSha256(sha).setSizeBytes(size)).build());
    for (int at = 0; at < bytes.length; at += 256 * 1024) {
      out.onNext(PutBlobChunk.newBuilder().setData(ByteString.copyFrom(bytes, at,
          Math.min(256 * 1024, bytes.length - at))).build());
    }
    out.onCompleted();
    return result;
  }

  private static <T> StreamObserver<T> observe(CompletableFuture<T> result) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        result.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        result.complete(null);
      }
    };
  }

  private static byte[] concat(List<BlobChunk> chunks) {
    ByteString all = ByteString.EMPTY;
    for (BlobChunk c : chunks) {
      all = all.concat(c.getData());
    }
    return all.toByteArray();
  }
}
