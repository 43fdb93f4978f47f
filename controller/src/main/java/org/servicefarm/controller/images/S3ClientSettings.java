package org.servicefarm.controller.images;

import java.net.URI;
import java.util.Optional;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * How the controller reaches an S3-compatible object store. What is not given here comes from
 * where every AWS tool looks: {@code AWS_REGION}, {@code AWS_ACCESS_KEY_ID} and
 * {@code AWS_SECRET_ACCESS_KEY}, {@code AWS_ENDPOINT_URL_S3}, the shared config and credentials
 * files ({@code AWS_PROFILE}), or the instance's role.
 *
 * @param endpoint the store's URL (e.g. {@code http://minio:9000}); empty for AWS itself. With an
 *     endpoint, buckets are addressed by path ({@code endpoint/bucket/key}), as stores other than
 *     AWS expect.
 * @param region the region to sign for; empty for the environment's (or us-east-1)
 * @param accessKeyId with secretAccessKey, the credentials; both empty for the environment's
 */
public record S3ClientSettings(Optional<URI> endpoint, Optional<String> region,
    Optional<String> accessKeyId, Optional<String> secretAccessKey) {

  public S3ClientSettings {
    if (accessKeyId.isPresent() != secretAccessKey.isPresent()) {
      throw new IllegalArgumentException("S3 credentials need both the access key id and the"
          + " secret access key (got only the " + (accessKeyId.isPresent() ? "access key id)"
          : "secret access key)"));
    }
    endpoint.ifPresent(uri -> {
      if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())
          || uri.getHost() == null) {
        throw new IllegalArgumentException("S3 endpoint '" + uri
            + "' is not an http:// or https:// URL");
      }
    });
  }

  /** A client with these settings; the caller closes it. */
  public S3Client newClient() {
    var builder = S3Client.builder()
        // The JDK's HTTP connection: no second Netty beside gRPC's, no Apache client.
        .httpClient(UrlConnectionHttpClient.create())
        .region(Region.of(region.orElseGet(S3ClientSettings::environmentRegion)))
        .credentialsProvider(credentials())
        // The store checks each upload's Content-MD5 and the controller checks every blob's
        // SHA-256; the SDK's own newer checksums (trailers in aws-chunked bodies) are not spoken
        // by every S3-compatible store.
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
    endpoint.ifPresent(uri -> builder.endpointOverride(uri).forcePathStyle(true));
    return builder.build();
  }

  /** Where the store is, for messages and logs (never the credentials). */
  public String describe() {
    return endpoint.map(URI::toString).orElse("AWS S3")
        + region.map(r -> " (region " + r + ")").orElse("");
  }

  /** Never the secret: settings may end up in a log or an exception message. */
  @Override
  public String toString() {
    return "S3ClientSettings[" + describe() + accessKeyId.map(id -> ", access key id " + id)
        .orElse(", credentials from the environment") + "]";
  }

  private AwsCredentialsProvider credentials() {
    if (accessKeyId.isPresent()) {
      return StaticCredentialsProvider.create(
          AwsBasicCredentials.create(accessKeyId.get(), secretAccessKey.orElseThrow()));
    }
    return DefaultCredentialsProvider.builder().build();
  }

  private static String environmentRegion() {
    try {
      return new DefaultAwsRegionProviderChain().getRegion().id();
    } catch (SdkClientException none) {
      // S3-compatible stores mostly ignore the region, but requests must be signed for one.
      return "us-east-1";
    }
  }
}
