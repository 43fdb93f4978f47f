package org.servicefarm.config;

/** A config file that cannot be used; the message names the file, and the line when there is one. */
public final class ConfigException extends Exception {
  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(message);
  }
}
