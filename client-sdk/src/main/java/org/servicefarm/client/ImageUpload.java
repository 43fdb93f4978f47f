package org.servicefarm.client;

import com.google.protobuf.ByteString;
import io.grpc.Channel;
import io.grpc.Deadline;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.servicefarm.api.v1.FarmAdminGrpc;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.UploadImageChunk;
import org.servicefarm.api.v1.UploadImageHeader;

/**
 * Streams an image file to the controller: a header, then the bytes, sent only as fast as the
 * stream takes them, so a large image never sits in memory.
 */
final class ImageUpload {
  private static final int CHUNK = 1 << 20;

  private ImageUpload() {}

  /** Uploads and maps failures as every other call does. */
  static Image call(Channel channel, StatusMapper statusMapper, CallPlan plan, String name,
      String format, Path file, java.time.Duration timeout) throws IOException {
    try {
      return send(channel, Deadline.after(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS),
          name, format, file);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof UncheckedIOException io) {
        throw io.getCause();
      }
      throw statusMapper.map(e.getCause(), plan, 1);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("upload of " + file + " interrupted");
    }
  }

  private static Image send(Channel channel, Deadline deadline, String name, String format, Path file)
      throws IOException, InterruptedException, ExecutionException {
    long size = Files.size(file);
    CompletableFuture<Image> done = new CompletableFuture<>();
    InputStream in = Files.newInputStream(file);
    FarmAdminGrpc.newStub(channel).withDeadline(deadline).uploadImage(
        new ClientResponseObserver<UploadImageChunk, Image>() {
          private ClientCallStreamObserver<UploadImageChunk> out;
          private boolean headerSent;
          private boolean finished;

          @Override
          public void beforeStart(ClientCallStreamObserver<UploadImageChunk> requestStream) {
            out = requestStream;
            out.setOnReadyHandler(this::pump);
          }

          private void pump() {
            try {
              while (out.isReady() && !finished) {
                if (!headerSent) {
                  out.onNext(UploadImageChunk.newBuilder().setHeader(UploadImageHeader.newBuilder()
                      .setName(name).setFormat(format).setSizeBytes(size)).build());
                  headerSent = true;
                  continue;
                }
                byte[] buffer = in.readNBytes(CHUNK);
                if (buffer.length == 0) {
                  finished = true;
                  in.close();
                  out.onCompleted();
                } else {
                  out.onNext(UploadImageChunk.newBuilder()
                      .setData(ByteString.copyFrom(buffer)).build());
                }
              }
            } catch (IOException e) {
              finished = true;
              out.cancel("cannot read " + file, e);
              done.completeExceptionally(new UncheckedIOException("reading " + file, e));
            }
          }

          @Override
          public void onNext(Image image) {
            done.complete(image);
          }

          @Override
          public void onError(Throwable t) {
            closeQuietly(in);
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            closeQuietly(in);
          }
        });
    return done.get();
  }

  private static void closeQuietly(InputStream in) {
    try {
      in.close();
    } catch (IOException alreadyFailed) {
      // The upload's own outcome is what the caller hears about.
    }
  }
}
