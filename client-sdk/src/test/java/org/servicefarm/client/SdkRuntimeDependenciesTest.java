package org.servicefarm.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * What a library user's build pulls in with the SDK: grpc, protobuf and what they themselves
 * need, nothing else. farmctl's picocli, its JSON printer and the PKI's BouncyCastle live in the
 * cli module. The list is the one Maven resolves for the SDK's runtime (the build writes it with
 * dependency:list into target/runtime-dependencies.txt); a dependency that is not on the
 * allow-list below fails here, so adding one is a decision made in review.
 */
class SdkRuntimeDependenciesTest {

  private static final Path LISTING = Path.of("target/runtime-dependencies.txt");

  /** groupId:artifactId a library user may receive from the SDK, grouped by who asks for it. */
  private static final Set<String> ALLOWED = Set.of(
      // The API's messages and stubs.
      "org.servicefarm:servicefarm-proto",
      "com.google.protobuf:protobuf-java",
      // grpc-java, with Netty as its transport.
      "io.grpc:grpc-api",
      "io.grpc:grpc-context",
      "io.grpc:grpc-core",
      "io.grpc:grpc-netty",
      "io.grpc:grpc-protobuf",
      "io.grpc:grpc-protobuf-lite",
      "io.grpc:grpc-stub",
      "io.grpc:grpc-util",
      "io.netty:netty-buffer",
      "io.netty:netty-codec-base",
      "io.netty:netty-codec-compression",
      "io.netty:netty-codec-http",
      "io.netty:netty-codec-http2",
      "io.netty:netty-codec-socks",
      "io.netty:netty-common",
      "io.netty:netty-handler",
      "io.netty:netty-handler-proxy",
      "io.netty:netty-resolver",
      "io.netty:netty-transport",
      "io.netty:netty-transport-native-unix-common",
      // What grpc-java and protobuf themselves depend on.
      "com.google.api.grpc:proto-google-common-protos",
      "com.google.guava:guava",
      "com.google.guava:failureaccess",
      "com.google.guava:listenablefuture",
      "com.google.code.gson:gson",
      "com.google.code.findbugs:jsr305",
      "com.google.errorprone:error_prone_annotations",
      "com.google.j2objc:j2objc-annotations",
      "com.google.android:annotations",
      "io.perfmark:perfmark-api",
      "org.codehaus.mojo:animal-sniffer-annotations",
      "org.jspecify:jspecify");

  @Test
  void sdkBringsOnlyGrpcProtobufAndTheirOwnDependencies() throws IOException {
    Set<String> resolved = runtimeDependencies();
    assertTrue(resolved.contains("io.grpc:grpc-netty")
        && resolved.contains("org.servicefarm:servicefarm-proto"), "the listing in " + LISTING.toAbsolutePath() + " does not name the SDK's own transport "
            + "and API: " + resolved);

    Set<String> unexpected = new TreeSet<>(resolved);
    unexpected.removeAll(ALLOWED);
    assertEquals(Set.of(), unexpected,
        "the SDK's runtime dependencies include artifacts a library user does not need; move "
            + "what needs them to the cli module, or add them to the allow-list with a reason");
  }

  @Test
  void sdkDoesNotBringFarmctlsCommandLineOrPkiLibraries() throws IOException {
    List<String> farmctlOnly = runtimeDependencies().stream()
        .filter(d -> d.startsWith("info.picocli:") || d.startsWith("org.bouncycastle:")
            || d.equals("com.google.protobuf:protobuf-java-util"))
        .toList();
    assertEquals(List.of(), farmctlOnly, "farmctl's libraries leaked into the SDK");
  }

  /** groupId:artifactId of every line of dependency:list's output. */
  private static Set<String> runtimeDependencies() throws IOException {
    if (!Files.isRegularFile(LISTING)) {
      throw new IllegalStateException(LISTING.toAbsolutePath() + " is missing: the build writes "
          + "it (maven-dependency-plugin, generate-test-resources); run this test through Maven");
    }
    Set<String> coordinates = new TreeSet<>();
    for (String line : Files.readAllLines(LISTING, StandardCharsets.UTF_8)) {
      // "   io.grpc:grpc-netty:jar:1.85.0:compile -- module io.grpc.netty [auto]"
      String[] parts = line.strip().split("\\s+")[0].split(":");
      if (parts.length >= 5) {
        coordinates.add(parts[0] + ":" + parts[1]);
      }
    }
    return coordinates;
  }
}
