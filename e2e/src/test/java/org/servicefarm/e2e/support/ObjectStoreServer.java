package org.servicefarm.e2e.support;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * A real S3 API server for end-to-end tests: S3Proxy on a directory of the test, on a free
 * loopback port, checking AWS signatures, with one bucket. Controllers reach it with
 * {@link #controllerArgs} and {@link #controllerEnv} (credentials in the usual AWS variables).
 */
public final class ObjectStoreServer implements AutoCloseable {
  private static final String ACCESS_KEY_ID = "farm-e2e";
  private static final String SECRET_ACCESS_KEY = "farm-e2e-secret";

  private final String bucket;
  private final S3Proxy proxy;
  private final S3Client client;

  public ObjectStoreServer(Path dir, String bucket) throws Exception {
    this.bucket = bucket;
    Files.createDirectories(dir);
    proxy = S3Proxy.builder()
        .blobStore(new FilesystemNio2BlobStore(dir.toString()))
        .endpoint(URI.create("http://127.0.0.1:0"))
        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
        .build();
    proxy.start();
    while (!"STARTED".equals(proxy.getState())) {
      Thread.sleep(10);
    }
    client = S3Client.builder().httpClient(UrlConnectionHttpClient.create())
        .endpointOverride(endpoint()).forcePathStyle(true).region(Region.US_EAST_1)
        .credentialsProvider(StaticCredentialsProvider.create(
            AwsBasicCredentials.create(ACCESS_KEY_ID, SECRET_ACCESS_KEY)))
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .build();
    client.createBucket(b -> b.bucket(bucket));
  }

  URI endpoint() {
    return URI.create("http://127.0.0.1:" + proxy.getPort());
  }

  /** The controller flags that put its blobs under {@code s3://bucket/prefix}. */
  public List<String> controllerArgs(String prefix) {
    return List.of("--blob-store", "s3://" + bucket + "/" + prefix,
        "--s3-endpoint", endpoint().toString());
  }

  /** The credentials as the controller's own flags (for one-off commands run without them). */
  public List<String> credentialArgs() {
    return List.of("--s3-access-key-id", ACCESS_KEY_ID, "--s3-secret-access-key",
        SECRET_ACCESS_KEY, "--s3-region", "us-east-1");
  }

  /** The credentials, as every AWS tool reads them. */
  public Map<String, String> controllerEnv() {
    return Map.of("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY,
        "AWS_REGION", "us-east-1");
  }

  /** Every object key in the bucket, sorted. */
  public List<String> keys() {
    return client.listObjectsV2(b -> b.bucket(bucket)).contents().stream()
        .map(S3Object::key).sorted().toList();
  }

  @Override
  public void close() {
    client.close();
    try {
      proxy.stop();
    } catch (Exception e) { // S3Proxy declares only Exception
      throw new IllegalStateException("cannot stop S3Proxy", e);
    }
  }
}
