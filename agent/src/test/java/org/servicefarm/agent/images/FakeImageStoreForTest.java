package org.servicefarm.agent.images;

import com.google.protobuf.ByteString;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.servicefarm.agent.link.FailoverChannel;
import org.servicefarm.api.v1.BlobChunk;
import org.servicefarm.api.v1.BlobInfo;
import org.servicefarm.api.v1.FetchBlobRequest;
import org.servicefarm.api.v1.ImageStoreGrpc;
import org.servicefarm.api.v1.PutBlobChunk;
import org.servicefarm.api.v1.StatBlobRequest;

/**
 * Stands in for the controller's ImageStore in tests: blobs in memory, served in-process in
 * chunks of {@link #CHUNK_BYTES}. It can cut a fetch after some bytes with UNAVAILABLE, as a
 * dropped connection would, and records every fetch request so tests can see resumed offsets.
 */
public final class FakeImageStoreForTest extends ImageStoreGrpc.ImageStoreImplBase
    implements AutoCloseable {

  public static final int CHUNK_BYTES = 64 * 1024;

  public final List<FetchBlobRequest> fetchRequests = new CopyOnWriteArrayList<>();
  private final Map<String, byte[]> blobs = new ConcurrentHashMap<>();
  private final String name = "image-store-" + UUID.randomUUID();
  private volatile long cutAfterBytes = -1;
  private volatile int cutsLeft;
  private volatile CountDownLatch gate = new CountDownLatch(0);
  private volatile long flipByteInTransit = -1;
  private Server server;
  private FailoverChannel channel;

  public static FakeImageStoreForTest started() throws IOException {
    FakeImageStoreForTest store = new FakeImageStoreForTest();
    store.server = InProcessServerBuilder.forName(store.name).addService(store).build().start();
    store.channel = new FailoverChannel(List.of(store.name),
        target -> InProcessChannelBuilder.forName(target).build());
    return store;
  }

  /** The agent's side of this store, retrying after a few milliseconds so tests stay quick. */
  public BlobTransfers transfers() {
    return new BlobTransfers(new ImageStoreClient(channel), Duration.ofMillis(10));
  }

  /** Stores the bytes under their digest, which it returns. */
  public BlobDigest add(byte[] bytes) {
    BlobDigest digest = digestOf(bytes);
    blobs.put(digest.hex(), bytes.clone());
    return digest;
  }

  /** Stores bytes under a digest they do not have, as a corrupted store would. */
  public void addUnderWrongDigest(BlobDigest digest, byte[] bytes) {
    blobs.put(digest.hex(), bytes.clone());
  }

  public byte[] blob(String hex) {
    return blobs.get(hex);
  }

  public boolean holds(String hex) {
    return blobs.containsKey(hex);
  }

  /** The next {@code fetches} fetches end with UNAVAILABLE after sending {@code bytes} bytes. */
  public void cutNextFetches(int fetches, long bytes) {
    cutAfterBytes = bytes;
    cutsLeft = fetches;
  }

  /**
   * Every fetch sends the blob with the byte at {@code position} flipped, as a network or proxy
   * that corrupts data would, while the store itself keeps the right bytes.
   */
  public void alterBytesInTransit(long position) {
    flipByteInTransit = position;
  }

  /** Fetches wait for the gate to open before sending anything. */
  public void holdFetchesUntil(CountDownLatch gate) {
    this.gate = gate;
  }

  public static BlobDigest digestOf(byte[] bytes) {
    var sha256 = BlobDigest.newSha256();
    sha256.update(bytes);
    return BlobDigest.of(sha256);
  }

  @Override
  public void fetchBlob(FetchBlobRequest request, StreamObserver<BlobChunk> responses) {
    fetchRequests.add(request);
    try {
      if (!gate.await(30, TimeUnit.SECONDS)) {
        throw new AssertionError("the test never opened the fetch gate");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      responses.onError(Status.CANCELLED.asRuntimeException());
      return;
    }
    byte[] bytes = blobs.get(request.getSha256());
    if (bytes == null) {
      responses.onError(Status.NOT_FOUND.withDescription("no blob " + request.getSha256())
          .asRuntimeException());
      return;
    }
    long offset = request.getOffset();
    if (offset > bytes.length) {
      responses.onError(Status.OUT_OF_RANGE.asRuntimeException());
      return;
    }
    boolean cut = cutsLeft > 0;
    if (cut) {
      cutsLeft--;
    }
    long end = cut ? Math.min(bytes.length, offset + cutAfterBytes) : bytes.length;
    for (long position = offset; position < end; position += CHUNK_BYTES) {
      int length = (int) Math.min(CHUNK_BYTES, end - position);
      byte[] sent = java.util.Arrays.copyOfRange(bytes, (int) position, (int) position + length);
      long flip = flipByteInTransit;
      if (flip >= position && flip < position + length) {
        sent[(int) (flip - position)] ^= 0x5a;
      }
      responses.onNext(BlobChunk.newBuilder().setOffset(position).setTotalSize(bytes.length)
          .setData(ByteString.copyFrom(sent)).build());
    }
    if (cut && end < bytes.length) {
      responses.onError(Status.UNAVAILABLE.withDescription("connection cut by the test")
          .asRuntimeException());
    } else {
      responses.onCompleted();
    }
  }

  @Override
  public StreamObserver<PutBlobChunk> putBlob(StreamObserver<BlobInfo> responses) {
    return new StreamObserver<>() {
      private String declared;
      private long declaredSize;
      private final ByteArrayOutputStream data = new ByteArrayOutputStream();

      @Override
      public void onNext(PutBlobChunk chunk) {
        switch (chunk.getKindCase()) {
          case HEADER -> {
            declared = chunk.getHeader().getSha256();
            declaredSize = chunk.getHeader().getSizeBytes();
          }
          case DATA -> data.writeBytes(chunk.getData().toByteArray());
          case KIND_NOT_SET -> throw new AssertionError("empty PutBlob message");
        }
      }

      @Override
      public void onError(Throwable t) {
        // The agent gave up; nothing is stored.
      }

      @Override
      public void onCompleted() {
        byte[] bytes = data.toByteArray();
        String actual = digestOf(bytes).hex();
        if (!actual.equals(declared) || bytes.length != declaredSize) {
          responses.onError(Status.INVALID_ARGUMENT.withDescription("declared " + declared
              + " but got " + actual).asRuntimeException());
          return;
        }
        blobs.put(actual, bytes);
        responses.onNext(BlobInfo.newBuilder().setSha256(actual).setSizeBytes(bytes.length)
            .build());
        responses.onCompleted();
      }
    };
  }

  @Override
  public void statBlob(StatBlobRequest request, StreamObserver<BlobInfo> responses) {
    byte[] bytes = blobs.get(request.getSha256());
    if (bytes == null) {
      responses.onError(Status.NOT_FOUND.asRuntimeException());
      return;
    }
    responses.onNext(BlobInfo.newBuilder().setSha256(request.getSha256())
        .setSizeBytes(bytes.length).build());
    responses.onCompleted();
  }

  @Override
  public void close() {
    channel.close();
    server.shutdownNow();
  }
}
