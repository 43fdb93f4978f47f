package org.servicefarm.agent.images;

import com.google.protobuf.ByteString;
import io.grpc.ClientInterceptor;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.servicefarm.api.v1.BlobChunk;
import org.servicefarm.api.v1.BlobInfo;
import org.servicefarm.api.v1.FetchBlobRequest;
import org.servicefarm.api.v1.ImageStoreGrpc;
import org.servicefarm.api.v1.PutBlobChunk;
import org.servicefarm.api.v1.PutBlobHeader;
import org.servicefarm.api.v1.StatBlobRequest;

/**
 * The controller's ImageStore service as the agent calls it: one call per method, no retries
 * (those belong to {@link BlobTransfers}, which knows what a retry means for each transfer).
 * Failures of the call come out as {@link StatusRuntimeException}; a controller found unavailable
 * makes the next call try the next controller address.
 */
public final class ImageStoreClient {

  /** Bytes in each PutBlob data message; well below gRPC's 4 MiB default message limit. */
  static final int PUT_CHUNK_BYTES = 256 * 1024;
  private static final long STAT_DEADLINE_SECONDS = 30;
  // A whole image may take long on a slow link, but a controller that stops answering must not
  // hold a command thread forever: the command fails and the reconciler sends it again.
  private static final long TRANSFER_DEADLINE_MINUTES = 30;

  /** Receives the chunks of a fetch, in the order the store sends them. */
  @FunctionalInterface
  public interface ChunkSink {
    void accept(BlobChunk chunk) throws IOException, ImageException;
  }

  private final ControllerChannels channels;
  private final Optional<ClientInterceptor> bearer;

  /** A client known to the store by its channel's client certificate (mutual TLS). */
  public ImageStoreClient(ControllerChannels channels) {
    this(channels, Optional.empty());
  }

  /**
   * @param bearerToken sent on every call when present: without a client certificate the store
   *     serves only a caller with an admin token
   */
  public ImageStoreClient(ControllerChannels channels, Optional<String> bearerToken) {
    this.channels = channels;
    this.bearer = bearerToken.map(token -> {
      Metadata headers = new Metadata();
      headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
          "Bearer " + token);
      return MetadataUtils.newAttachHeadersInterceptor(headers);
    });
  }

  private ImageStoreGrpc.ImageStoreBlockingStub blocking(ManagedChannel channel) {
    ImageStoreGrpc.ImageStoreBlockingStub stub = ImageStoreGrpc.newBlockingStub(channel);
    return bearer.map(stub::withInterceptors).orElse(stub);
  }

  private ImageStoreGrpc.ImageStoreStub async(ManagedChannel channel) {
    ImageStoreGrpc.ImageStoreStub stub = ImageStoreGrpc.newStub(channel);
    return bearer.map(stub::withInterceptors).orElse(stub);
  }

  /**
   * Streams the blob from {@code offset} to its end into {@code sink}. Returns when the store
   * ends the stream; a stream cut short ends in a StatusRuntimeException, and an exception from
   * the sink cancels the call.
   */
  public void fetch(BlobDigest digest, long offset, ChunkSink sink)
      throws IOException, ImageException {
    ManagedChannel channel = channels.current();
    FetchBlobRequest request =
        FetchBlobRequest.newBuilder().setSha256(digest.hex()).setOffset(offset).build();
    // The blocking iterator has no close(); cancelling its context is what ends a call we stop
    // reading early, so the controller stops sending.
    Context.CancellableContext call = Context.current().withCancellation();
    Context previous = call.attach();
    try {
      Iterator<BlobChunk> chunks = blocking(channel)
          .withDeadlineAfter(TRANSFER_DEADLINE_MINUTES, TimeUnit.MINUTES).fetchBlob(request);
      while (chunks.hasNext()) {
        sink.accept(chunks.next());
      }
    } catch (StatusRuntimeException e) {
      noteFailure(channel, e);
      throw e;
    } finally {
      call.detach(previous);
      call.cancel(null);
    }
  }

  /** What the store knows of the blob, or empty when it does not hold it. */
  public Optional<BlobInfo> stat(BlobDigest digest) {
    ManagedChannel channel = channels.current();
    try {
      return Optional.of(blocking(channel)
          .withDeadlineAfter(STAT_DEADLINE_SECONDS, TimeUnit.SECONDS)
          .statBlob(StatBlobRequest.newBuilder().setSha256(digest.hex()).build()));
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        return Optional.empty();
      }
      noteFailure(channel, e);
      throw e;
    }
  }

  /**
   * Uploads the file as the blob {@code digest} of {@code size} bytes: a header, then the bytes
   * in order, sent only as fast as the stream takes them.
   */
  public BlobInfo put(BlobDigest digest, long size, Path file)
      throws IOException, InterruptedException {
    ManagedChannel channel = channels.current();
    PutCall call = new PutCall();
    async(channel)
        .withDeadlineAfter(TRANSFER_DEADLINE_MINUTES, TimeUnit.MINUTES).putBlob(call);
    try {
      call.send(PutBlobChunk.newBuilder().setHeader(
          PutBlobHeader.newBuilder().setSha256(digest.hex()).setSizeBytes(size)).build());
      try (InputStream in = Files.newInputStream(file)) {
        byte[] buffer = new byte[PUT_CHUNK_BYTES];
        for (int n = in.readNBytes(buffer, 0, buffer.length); n > 0;
            n = in.readNBytes(buffer, 0, buffer.length)) {
          if (!call.send(PutBlobChunk.newBuilder()
              .setData(ByteString.copyFrom(buffer, 0, n)).build())) {
            break; // the store answered early; its answer says why
          }
        }
      }
      call.requests.onCompleted();
      return call.result.get();
    } catch (IOException | InterruptedException | RuntimeException e) {
      call.requests.cancel("the agent stopped the upload", e);
      throw e;
    } catch (ExecutionException e) {
      StatusRuntimeException failure = Status.fromThrowable(e.getCause()).asRuntimeException();
      noteFailure(channel, failure);
      throw failure;
    }
  }

  private void noteFailure(ManagedChannel channel, StatusRuntimeException e) {
    if (e.getStatus().getCode() == Status.Code.UNAVAILABLE) {
      channels.failover(channel);
    }
  }

  /** One PutBlob call: writes wait until the stream is ready, so a large file never piles up. */
  private static final class PutCall implements ClientResponseObserver<PutBlobChunk, BlobInfo> {

    final CompletableFuture<BlobInfo> result = new CompletableFuture<>();
    private final Object readiness = new Object();
    ClientCallStreamObserver<PutBlobChunk> requests;

    @Override
    public void beforeStart(ClientCallStreamObserver<PutBlobChunk> requestStream) {
      requests = requestStream;
      requestStream.setOnReadyHandler(this::wake);
    }

    /** @return false when the call has already ended and nothing was sent */
    boolean send(PutBlobChunk chunk) throws InterruptedException {
      synchronized (readiness) {
        while (!requests.isReady() && !result.isDone()) {
          readiness.wait(1000); // the timeout only guards against a lost wake-up
        }
      }
      if (result.isDone()) {
        return false;
      }
      requests.onNext(chunk);
      return true;
    }

    @Override
    public void onNext(BlobInfo info) {
      result.complete(info);
    }

    @Override
    public void onError(Throwable t) {
      result.completeExceptionally(t);
      wake();
    }

    @Override
    public void onCompleted() {
      result.completeExceptionally(Status.INTERNAL
          .withDescription("the image store ended PutBlob without a BlobInfo").asException());
      wake();
    }

    private void wake() {
      synchronized (readiness) {
        readiness.notifyAll();
      }
    }
  }
}
