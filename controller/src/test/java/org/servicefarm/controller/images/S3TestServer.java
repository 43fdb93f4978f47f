package org.servicefarm.controller.images;

import java.net.URI;
import java.nio.file.Path;
import java.util.Optional;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A real S3 API server for tests: S3Proxy on a local directory, on a free loopback port, with
 * one bucket and AWS signature checking on.
 */
final class S3TestServer implements AutoCloseable {
  static final String ACCESS_KEY_ID = "farm-test";
  static final String SECRET_ACCESS_KEY = "farm-test-secret";

  private final Path directory;
  private final String bucket;
  private S3Proxy proxy;
  private int port;

  S3TestServer(Path directory, String bucket) throws Exception {
    this.directory = directory;
    this.bucket = bucket;
    start(0);
    try (S3Client client = settings().newClient()) {
      client.createBucket(b -> b.bucket(bucket));
    }
  }

  /** Client settings that reach this server with its credentials. */
  S3ClientSettings settings() {
    return new S3ClientSettings(Optional.of(endpoint()), Optional.of("us-east-1"),
        Optional.of(ACCESS_KEY_ID), Optional.of(SECRET_ACCESS_KEY));
  }

  URI endpoint() {
    return URI.create("http://127.0.0.1:" + port);
  }

  String bucket() {
    return bucket;
  }

  /** Stops answering (a store that is down); {@link #restart} brings it back on the same port. */
  void stop() throws Exception {
    proxy.stop();
  }

  void restart() throws Exception {
    start(port);
  }

  private void start(int onPort) throws Exception {
    proxy = S3Proxy.builder()
        .blobStore(new FilesystemNio2BlobStore(directory.toString()))
        .endpoint(URI.create("http://127.0.0.1:" + onPort))
        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
        .build();
    proxy.start();
    while (!"STARTED".equals(proxy.getState())) {
      Thread.sleep(10);
    }
    port = proxy.getPort();
  }

  @Override
  public void close() {
    try {
      proxy.stop();
    } catch (Exception e) { // S3Proxy declares only Exception
      throw new IllegalStateException("cannot stop S3Proxy", e);
    }
  }
}
