package org.servicefarm.client.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/**
 * farmctl --version, read from the pom.properties Maven packs into the jar, so the version is
 * written down once, in the pom. Running from classes (tests, IDE) there is none.
 */
final class FarmCtlVersion implements IVersionProvider {

  private static final String POM_PROPERTIES =
      "/META-INF/maven/org.servicefarm/servicefarm-cli/pom.properties";

  @Override
  public String[] getVersion() {
    try (InputStream in = FarmCtlVersion.class.getResourceAsStream(POM_PROPERTIES)) {
      if (in == null) {
        return new String[] {"farmctl (version unknown: not running from a packaged jar)"};
      }
      Properties properties = new Properties();
      properties.load(in);
      return new String[] {"farmctl " + properties.getProperty("version", "(version unknown)")};
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + POM_PROPERTIES, e);
    }
  }
}
