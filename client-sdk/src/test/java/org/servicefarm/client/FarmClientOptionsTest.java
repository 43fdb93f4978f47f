package org.servicefarm.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FarmClientOptionsTest {

  @TempDir
  Path tempDir;

  @Test
  void defaultsReachTheLocalControllerInPlaintext() {
    FarmClientOptions options = FarmClientOptions.defaults();

    assertEquals("127.0.0.1", options.host());
    assertEquals(50051, options.port());
    assertTrue(options.usesPlaintext());
    assertEquals(Duration.ofSeconds(120), options.requestServiceDeadline());
    assertEquals(Duration.ofSeconds(10), options.callDeadline());
    assertEquals(3, options.maxAttempts());
  }

  @Test
  void remoteTargetDefaultsToTlsSoTokensDoNotTravelInClear() {
    assertFalse(FarmClientOptions.builder().target("farm.example.org:50051").build()
        .usesPlaintext());
    assertFalse(FarmClientOptions.builder().target("127.example.org:50051").build()
        .usesPlaintext());
  }

  @Test
  void ipv6TargetIsWrittenInBrackets() {
    FarmClientOptions options = FarmClientOptions.builder().target("[::1]:7000").build();

    assertEquals("::1", options.host());
    assertTrue(options.usesPlaintext());
  }

  @Test
  void targetWithoutPortIsRefusedNamingIt() {
    IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
        () -> FarmClientOptions.builder().target("farm.example.org").build());

    assertTrue(error.getMessage().contains("\"farm.example.org\""), error.getMessage());
  }

  @Test
  void portOutsideRangeIsRefusedNamingIt() {
    IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
        () -> FarmClientOptions.builder().target("localhost:70000").build());

    assertTrue(error.getMessage().contains("70000"), error.getMessage());
  }

  @Test
  void missingTrustCertificateIsRefusedNamingThePath() {
    Path missing = tempDir.resolve("ca.pem");

    IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
        () -> FarmClientOptions.builder().trustCertificate(missing).build());

    assertTrue(error.getMessage().contains(missing.toString()), error.getMessage());
  }

  @Test
  void trustCertificateSwitchesLoopbackToTls() throws Exception {
    Path ca = Files.writeString(tempDir.resolve("ca.pem"), "not checked until connect");

    FarmClientOptions options = FarmClientOptions.builder().trustCertificate(ca).build();

    assertFalse(options.usesPlaintext());
    assertEquals(ca, options.trustCertificate().orElseThrow());
  }

  @Test
  void plaintextWithTrustCertificateIsAContradiction() throws Exception {
    Path ca = Files.writeString(tempDir.resolve("ca.pem"), "pem");

    assertThrows(IllegalArgumentException.class,
        () -> FarmClientOptions.builder().plaintext(true).trustCertificate(ca).build());
  }

  @Test
  void connectWithAFileThatIsNoCertificateNamesTheFile() throws Exception {
    Path notPem = Files.writeString(tempDir.resolve("ca.pem"), "this is not a certificate");
    FarmClientOptions options = FarmClientOptions.builder().trustCertificate(notPem).build();

    IllegalArgumentException error =
        assertThrows(IllegalArgumentException.class, () -> FarmClient.connect(options));

    assertTrue(error.getMessage().contains(notPem.toString()), error.getMessage());
  }

  @Test
  void tokenWithLineBreakIsRefusedWithoutEchoingIt() {
    IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
        () -> FarmClientOptions.builder().bearerToken("abc\ndef").build());

    assertFalse(error.getMessage().contains("abc"), error.getMessage());
  }

  @Test
  void zeroAttemptsAndNonPositiveDeadlinesAreRefusedNamingTheValue() {
    IllegalArgumentException attempts = assertThrows(IllegalArgumentException.class,
        () -> FarmClientOptions.builder().maxAttempts(0).build());
    IllegalArgumentException deadline = assertThrows(IllegalArgumentException.class,
        () -> FarmClientOptions.builder().callDeadline(Duration.ZERO).build());

    assertTrue(attempts.getMessage().contains("0"), attempts.getMessage());
    assertTrue(deadline.getMessage().contains("call deadline PT0S"), deadline.getMessage());
  }

  @Test
  void toStringDoesNotShowTheToken() {
    String text = FarmClientOptions.builder().bearerToken("s3cret").build().toString();

    assertFalse(text.contains("s3cret"), text);
  }
}
