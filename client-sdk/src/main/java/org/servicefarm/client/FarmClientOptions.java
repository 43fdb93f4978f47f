package org.servicefarm.client;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * How a {@link FarmClient} reaches the farm: where, how securely, as whom, how long to wait and how
 * often to retry. Built with {@link #builder()}; {@link Builder#build()} checks every value and
 * names the bad one, so a typo fails before any connection is tried.
 */
public final class FarmClientOptions {

  /** Where a controller listens unless told otherwise: this machine, port 50051. */
  public static final String DEFAULT_TARGET = "127.0.0.1:50051";
  /** RequestService may build a VM (image, placement, install, boot), which takes minutes. */
  public static final Duration DEFAULT_REQUEST_SERVICE_DEADLINE = Duration.ofSeconds(120);
  /** Every other call only reads or records state in the controller. */
  public static final Duration DEFAULT_CALL_DEADLINE = Duration.ofSeconds(10);
  /** Tries of an idempotent call when the farm is UNAVAILABLE: the first and two retries. */
  public static final int DEFAULT_MAX_ATTEMPTS = 3;
  /** The pause before the first retry. */
  public static final Duration DEFAULT_INITIAL_BACKOFF = Duration.ofMillis(200);
  /** The longest pause between retries. */
  public static final Duration DEFAULT_MAX_BACKOFF = Duration.ofSeconds(5);

  private final String target;
  private final String host;
  private final int port;
  private final boolean plaintext;
  private final Path trustCertificate;
  private final String bearerToken;
  private final String project;
  private final Duration requestServiceDeadline;
  private final Duration callDeadline;
  private final int maxAttempts;
  private final Duration initialBackoff;
  private final Duration maxBackoff;

  private FarmClientOptions(Builder builder, HostAndPort address, boolean plaintext) {
    this.target = builder.target;
    this.host = address.host();
    this.port = address.port();
    this.plaintext = plaintext;
    this.trustCertificate = builder.trustCertificate;
    this.bearerToken = builder.bearerToken;
    this.project = builder.project;
    this.requestServiceDeadline = builder.requestServiceDeadline;
    this.callDeadline = builder.callDeadline;
    this.maxAttempts = builder.maxAttempts;
    this.initialBackoff = builder.initialBackoff;
    this.maxBackoff = builder.maxBackoff;
  }

  /** A builder starting from every default; see {@link #defaults()}. */
  public static Builder builder() {
    return new Builder();
  }

  /** Every option at its default: plaintext to 127.0.0.1:50051, no token. */
  public static FarmClientOptions defaults() {
    return builder().build();
  }

  /** The controller's address as given, "host:port". */
  public String target() {
    return target;
  }

  /** The host part of the target, without IPv6 brackets. */
  public String host() {
    return host;
  }

  /** The port part of the target. */
  public int port() {
    return port;
  }

  /** True when the channel sends everything unencrypted. */
  public boolean usesPlaintext() {
    return plaintext;
  }

  /** The CA certificate the server's certificate must chain to, when one was given. */
  public Optional<Path> trustCertificate() {
    return Optional.ofNullable(trustCertificate);
  }

  /** The token sent as "authorization: Bearer &lt;token&gt;" on every call, when one was given. */
  public Optional<String> bearerToken() {
    return Optional.ofNullable(bearerToken);
  }

  /**
   * The project a farm-wide token's calls act in (sent as "servicefarm-project"); empty: the
   * whole farm, or the project a project's token is bound to.
   */
  public Optional<String> project() {
    return Optional.ofNullable(project);
  }

  /** How long RequestService may take in all, retries included. */
  public Duration requestServiceDeadline() {
    return requestServiceDeadline;
  }

  /** How long any other call may take in all, retries included. */
  public Duration callDeadline() {
    return callDeadline;
  }

  /** How many times an idempotent call is tried when the farm is UNAVAILABLE; 1 means no retry. */
  public int maxAttempts() {
    return maxAttempts;
  }

  /** The pause before the first retry; each later pause doubles, up to {@link #maxBackoff()}. */
  public Duration initialBackoff() {
    return initialBackoff;
  }

  /** The longest pause between two attempts. */
  public Duration maxBackoff() {
    return maxBackoff;
  }

  @Override
  public String toString() {
    // The token is a secret: say only whether there is one.
    return "FarmClientOptions{target=" + target + ", plaintext=" + plaintext
        + ", trustCertificate=" + trustCertificate
        + ", token=" + (bearerToken != null ? "set" : "none")
        + ", requestServiceDeadline=" + requestServiceDeadline + ", callDeadline=" + callDeadline
        + ", maxAttempts=" + maxAttempts + "}";
  }

  /** Collects options; nothing is checked until {@link #build()}. */
  public static final class Builder {
    private String target = DEFAULT_TARGET;
    private Boolean plaintext; // null: decided by the target, see plaintext(boolean)
    private Path trustCertificate;
    private String bearerToken;
    private String project;
    private Duration requestServiceDeadline = DEFAULT_REQUEST_SERVICE_DEADLINE;
    private Duration callDeadline = DEFAULT_CALL_DEADLINE;
    private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
    private Duration initialBackoff = DEFAULT_INITIAL_BACKOFF;
    private Duration maxBackoff = DEFAULT_MAX_BACKOFF;

    private Builder() {}

    /** The controller's address, "host:port" ("[::1]:50051" for IPv6). */
    public Builder target(String target) {
      this.target = target;
      return this;
    }

    /**
     * Send unencrypted. When not set, loopback targets (localhost, 127.x, ::1) are plaintext,
     * because the controller serves plaintext until TLS is configured, and every other target uses
     * TLS with the JVM's trusted roots, so a token never crosses a network in clear by accident.
     */
    public Builder plaintext(boolean plaintext) {
      this.plaintext = plaintext;
      return this;
    }

    /** Use TLS and trust the server only if its certificate chains to this PEM CA certificate. */
    public Builder trustCertificate(Path caCertificate) {
      this.trustCertificate = caCertificate;
      return this;
    }

    /** Sent as "authorization: Bearer &lt;token&gt;"; null or "" sends no token. */
    public Builder bearerToken(String token) {
      this.bearerToken = token == null || token.isEmpty() ? null : token;
      return this;
    }

    /** The project to act in with a farm-wide token; null or "" acts on the whole farm. */
    public Builder project(String project) {
      this.project = project == null || project.isEmpty() ? null : project;
      return this;
    }

    /** How long RequestService may take in all, retries included (default 120 s). */
    public Builder requestServiceDeadline(Duration deadline) {
      this.requestServiceDeadline = deadline;
      return this;
    }

    /** How long any other call may take in all, retries included (default 10 s). */
    public Builder callDeadline(Duration deadline) {
      this.callDeadline = deadline;
      return this;
    }

    /** Tries of an idempotent call when the farm is UNAVAILABLE, at least 1 (default 3). */
    public Builder maxAttempts(int maxAttempts) {
      this.maxAttempts = maxAttempts;
      return this;
    }

    /** The pause before the first retry; later ones double (default 200 ms). */
    public Builder initialBackoff(Duration backoff) {
      this.initialBackoff = backoff;
      return this;
    }

    /** The longest pause between retries (default 5 s). */
    public Builder maxBackoff(Duration backoff) {
      this.maxBackoff = backoff;
      return this;
    }

    /**
     * @throws IllegalArgumentException naming the first bad value
     */
    public FarmClientOptions build() {
      HostAndPort address = HostAndPort.parse(target);
      if (Boolean.TRUE.equals(plaintext) && trustCertificate != null) {
        throw new IllegalArgumentException("plaintext and trust certificate " + trustCertificate
            + " contradict each other: a trust certificate means TLS");
      }
      if (trustCertificate != null && !Files.isRegularFile(trustCertificate)) {
        throw new IllegalArgumentException(
            "trust certificate " + trustCertificate + " is not a readable file");
      }
      if (bearerToken != null && bearerToken.chars().anyMatch(c -> c <= ' ' || c > '~')) {
        // Not echoed: the value is a secret.
        throw new IllegalArgumentException(
            "bearer token must be printable ASCII without spaces or line breaks");
      }
      if (project != null && !project.matches("[a-z0-9][a-z0-9-]{0,62}")) {
        throw new IllegalArgumentException("project '" + project + "' is not a project name"
            + " (1 to 63 of a-z, 0-9 and '-')");
      }
      requirePositive("request service deadline", requestServiceDeadline);
      requirePositive("call deadline", callDeadline);
      requirePositive("initial backoff", initialBackoff);
      requirePositive("max backoff", maxBackoff);
      if (maxBackoff.compareTo(initialBackoff) < 0) {
        throw new IllegalArgumentException("max backoff " + maxBackoff
            + " is shorter than initial backoff " + initialBackoff);
      }
      if (maxAttempts < 1) {
        throw new IllegalArgumentException("max attempts " + maxAttempts + " must be at least 1");
      }
      boolean resolvedPlaintext = plaintext != null
          ? plaintext
          : trustCertificate == null && address.isLoopback();
      return new FarmClientOptions(this, address, resolvedPlaintext);
    }

    private static void requirePositive(String what, Duration value) {
      Objects.requireNonNull(value, what);
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(what + " " + value + " must be positive");
      }
    }
  }

  /** A parsed "host:port" target. */
  private record HostAndPort(String host, int port) {

    static HostAndPort parse(String target) {
      if (target == null) {
        throw new IllegalArgumentException("target is missing; expected host:port");
      }
      String bad = "target \"" + target + "\" is not host:port (e.g. 127.0.0.1:50051)";
      int colon = target.lastIndexOf(':');
      if (colon <= 0 || colon == target.length() - 1) {
        throw new IllegalArgumentException(bad);
      }
      String host = target.substring(0, colon);
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
      } else if (host.contains(":")) {
        throw new IllegalArgumentException(bad + "; write IPv6 addresses as [::1]:50051");
      }
      if (host.isBlank() || host.chars().anyMatch(Character::isWhitespace)) {
        throw new IllegalArgumentException(bad);
      }
      int port;
      try {
        port = Integer.parseInt(target.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(bad, e);
      }
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException(
            "target \"" + target + "\" has port " + port + ", outside 1-65535");
      }
      return new HostAndPort(host, port);
    }

    /** Judged from the text only: resolving names here would make building options do I/O. */
    boolean isLoopback() {
      return host.equalsIgnoreCase("localhost")
          || host.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}")
          || host.equals("::1");
    }
  }
}
