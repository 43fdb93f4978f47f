package org.servicefarm.controller.api;

import io.grpc.stub.StreamObserver;
import org.servicefarm.api.v1.Image;
import org.servicefarm.api.v1.UploadImageChunk;
import org.servicefarm.api.v1.UploadImageHeader;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.images.ImageIntake;

/**
 * One UploadImage call: a header, then the file's bytes in order. The interceptor cannot answer
 * for a stream, so a refusal ends the call here with its status and discards the bytes so far.
 */
final class ImageUploadReceiver implements StreamObserver<UploadImageChunk> {
  private final ImageIntake intake;
  private final StreamObserver<Image> out;
  private ImageIntake.Upload upload;
  private boolean ended;

  ImageUploadReceiver(ImageIntake intake, StreamObserver<Image> out) {
    this.intake = intake;
    this.out = out;
  }

  @Override
  public void onNext(UploadImageChunk chunk) {
    if (ended) {
      return;
    }
    try {
      switch (chunk.getKindCase()) {
        case HEADER -> {
          if (upload != null) {
            throw new FarmException.InvalidInput("header: sent twice; send it once, first");
          }
          UploadImageHeader h = chunk.getHeader();
          upload = intake.beginUpload(Validation.imageName("name", h.getName()),
              FarmAdminService.imageFormat(h.getFormat()),
              Validation.range("size_bytes", h.getSizeBytes(), 1, intake.maxImageBytes()),
              h.getSha256().isEmpty() ? null : Validation.sha256("sha256", h.getSha256()));
        }
        case DATA -> {
          if (upload == null) {
            throw new FarmException.InvalidInput(
                "the first message must be the header (name, format, size_bytes), not data");
          }
          upload.write(chunk.getData().asReadOnlyByteBuffer());
        }
        default -> throw new FarmException.InvalidInput(
            "a message carries neither header nor data");
      }
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  @Override
  public void onError(Throwable t) {
    // The client went away: nothing to answer, only the bytes so far to discard.
    ended = true;
    if (upload != null) {
      upload.close();
    }
  }

  @Override
  public void onCompleted() {
    if (ended) {
      return;
    }
    try {
      if (upload == null) {
        throw new FarmException.InvalidInput("no header arrived (name, format, size_bytes)");
      }
      Image image = ProtoMapping.image(upload.finish());
      ended = true;
      out.onNext(image);
      out.onCompleted();
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  private void fail(RuntimeException e) {
    ended = true;
    if (upload != null) {
      try {
        upload.close();
      } catch (RuntimeException closeFailure) {
        // The caller needs the refusal; why the partial file could not go is logged already.
        e.addSuppressed(closeFailure);
      }
    }
    out.onError(StatusMapper.toStatus(e).asRuntimeException());
  }
}
