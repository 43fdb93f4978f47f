package org.servicefarm.agent;

/** The agent's version as written into its jar's manifest at build time. */
public final class AgentVersion {

  private AgentVersion() {}

  /** The build's version, or "dev" when running from classes outside a jar (IDE, tests). */
  public static String current() {
    String version = AgentVersion.class.getPackage().getImplementationVersion();
    return version == null ? "dev" : version;
  }
}
