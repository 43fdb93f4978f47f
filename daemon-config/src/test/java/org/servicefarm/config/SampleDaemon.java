package org.servicefarm.config;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** A daemon-shaped command with one option of each kind the daemons have. */
@Command(name = "sample-daemon", mixinStandardHelpOptions = true)
final class SampleDaemon implements Callable<Integer> {
  @Mixin ConfigOptions configOptions;

  @Option(names = "--listen", defaultValue = "127.0.0.1:50051") String listen;
  @Option(names = "--host-id", required = true) String hostId;
  @Option(names = "--liveness-timeout", defaultValue = "10") int livenessTimeout;
  @Option(names = "--insecure") boolean insecure;
  @Option(names = "--database-url") String databaseUrl;
  @Option(names = "--api-token") String apiToken;
  @Option(names = "--tls-key") Path tlsKey;
  @Option(names = "--trusted-key", split = ",") java.util.List<Path> trustedKeys;

  boolean ran;

  @Override
  public Integer call() {
    ran = true;
    return 0;
  }
}
