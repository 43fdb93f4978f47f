package org.servicefarm.controller.api;

import org.servicefarm.controller.images.BlobWriter;
import org.servicefarm.controller.images.BlobStorage;
import org.servicefarm.controller.images.BlobStore;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.servicefarm.api.v1.BlobChunk;
import org.servicefarm.api.v1.BlobInfo;
import org.servicefarm.api.v1.FetchBlobRequest;
import org.servicefarm.api.v1.ImageStoreGrpc;
import org.servicefarm.api.v1.PutBlobChunk;
import org.servicefarm.api.v1.PutBlobHeader;
import org.servicefarm.api.v1.StatBlobRequest;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.api.StatusMapper;

/**
 * The image store's API: agents fetch blobs by digest (from an offset, so a cut transfer resumes)
 * and put archived disks back. Fetches stream at the pace the client reads: a chunk is read from
 * disk only when the call can take it, so a blob is never held in memory whole.
 */
public final class ImageStoreService extends ImageStoreGrpc.ImageStoreImplBase {
  private static final Logger LOG = Logger.getLogger(ImageStoreService.class.getName());
  /** Bytes per FetchBlob message: well under gRPC's default 4 MiB message limit. */
  public static final int CHUNK_BYTES = 1 << 20;

  private final BlobStorage blobs;

  public ImageStoreService(BlobStorage blobs) {
    this.blobs = blobs;
  }

  @Override
  public void fetchBlob(FetchBlobRequest req, StreamObserver<BlobChunk> out) {
    // Errors until the channel is open are thrown: StatusMapper answers them.
    FileChannel channel = blobs.openAt(required(req.getSha256()), req.getOffset());
    ServerCallStreamObserver<BlobChunk> call = (ServerCallStreamObserver<BlobChunk>) out;
    ChunkSender sender = new ChunkSender(req.getSha256(), channel, call);
    call.setOnCancelHandler(sender::close);
    // gRPC runs the handler once this method returns if the call is ready, and again whenever
    // the client has taken what was sent; handlers run one at a time.
    call.setOnReadyHandler(sender::sendWhileReady);
  }

  @Override
  public StreamObserver<PutBlobChunk> putBlob(StreamObserver<BlobInfo> out) {
    return new PutReceiver(out);
  }

  @Override
  public void statBlob(StatBlobRequest req, StreamObserver<BlobInfo> out) {
    String sha = required(req.getSha256());
    BlobStore.BlobInfo info = blobs.stat(sha).orElseThrow(
        () -> new FarmException.NotFound("blob " + sha + " is not in the image store"));
    out.onNext(toProto(info));
    out.onCompleted();
  }

  private static String required(String sha256) {
    if (sha256.isEmpty()) {
      throw new FarmException.InvalidInput("sha256 is required (64 lowercase hex digits)");
    }
    return sha256;
  }

  private static BlobInfo toProto(BlobStore.BlobInfo info) {
    return BlobInfo.newBuilder().setSha256(info.sha256()).setSizeBytes(info.sizeBytes()).build();
  }

  /** Sends one fetch's chunks while the call is ready; closes the file at the end or on cancel. */
  private static final class ChunkSender {
    private final String sha256;
    private final FileChannel channel;
    private final ServerCallStreamObserver<BlobChunk> call;
    private final long totalSize;
    private long position;
    private boolean closed;

    ChunkSender(String sha256, FileChannel channel, ServerCallStreamObserver<BlobChunk> call) {
      this.sha256 = sha256;
      this.channel = channel;
      this.call = call;
      try {
        this.totalSize = channel.size();
        this.position = channel.position();
      } catch (IOException e) {
        close();
        throw BlobStore.ioFailure("cannot read blob " + sha256, e);
      }
    }

    void sendWhileReady() {
      try {
        while (!closed && call.isReady()) {
          if (position == totalSize) {
            close();
            call.onCompleted();
            return;
          }
          ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(CHUNK_BYTES, totalSize - position));
          while (chunk.hasRemaining()) {
            if (channel.read(chunk) < 0) {
              throw new IOException("blob ended at " + (position + chunk.position())
                  + " bytes, " + totalSize + " expected");
            }
          }
          chunk.flip();
          call.onNext(BlobChunk.newBuilder()
              .setOffset(position)
              // The buffer is not touched again, so protobuf may keep it without a copy.
              .setData(UnsafeByteOperations.unsafeWrap(chunk))
              .setTotalSize(totalSize)
              .build());
          position += chunk.limit();
        }
      } catch (IOException e) {
        close();
        call.onError(StatusMapper.toStatus(BlobStore.ioFailure("cannot read blob " + sha256, e))
            .asRuntimeException());
      }
    }

    void close() {
      if (closed) {
        return;
      }
      closed = true;
      try {
        channel.close();
      } catch (IOException e) {
        // The transfer is over either way; a failing close of a read-only file costs nothing.
        LOG.log(Level.WARNING, "cannot close blob " + sha256, e);
      }
    }
  }

  /**
   * One PutBlob call: a header (sha256, size), then bytes in order. A refused message ends the
   * call with its status and discards what was written; later messages are ignored.
   */
  private final class PutReceiver implements StreamObserver<PutBlobChunk> {
    private final StreamObserver<BlobInfo> out;
    private BlobWriter writer;
    private boolean ended;

    PutReceiver(StreamObserver<BlobInfo> out) {
      this.out = out;
    }

    @Override
    public void onNext(PutBlobChunk chunk) {
      if (ended) {
        return;
      }
      try {
        switch (chunk.getKindCase()) {
          case HEADER -> open(chunk.getHeader());
          case DATA -> {
            if (writer == null) {
              throw new FarmException.InvalidInput(
                  "the first message must be the header (sha256, size_bytes), not data");
            }
            writer.write(chunk.getData().asReadOnlyByteBuffer());
          }
          default -> throw new FarmException.InvalidInput(
              "a message carries neither header nor data");
        }
      } catch (RuntimeException e) {
        fail(e);
      }
    }

    private void open(PutBlobHeader header) {
      if (writer != null) {
        throw new FarmException.InvalidInput("header: sent twice; send it once, first");
      }
      if (header.getSizeBytes() < 0) {
        throw new FarmException.InvalidInput("size_bytes: " + header.getSizeBytes()
            + " is not a length");
      }
      writer = blobs.writer(required(header.getSha256()), header.getSizeBytes());
    }

    @Override
    public void onError(Throwable t) {
      // The client went away: nothing to answer, only the partial blob to discard.
      ended = true;
      if (writer != null) {
        writer.abort();
      }
    }

    @Override
    public void onCompleted() {
      if (ended) {
        return;
      }
      try {
        if (writer == null) {
          throw new FarmException.InvalidInput("no header arrived (sha256, size_bytes)");
        }
        BlobInfo info = toProto(writer.finish());
        ended = true;
        out.onNext(info);
        out.onCompleted();
      } catch (RuntimeException e) {
        fail(e);
      }
    }

    private void fail(RuntimeException e) {
      ended = true;
      if (writer != null) {
        try {
          writer.abort();
        } catch (RuntimeException abortFailure) {
          // The caller needs the refusal; why the partial file could not go is logged already.
          e.addSuppressed(abortFailure);
        }
      }
      out.onError(StatusMapper.toStatus(e).asRuntimeException());
    }
  }
}
