package org.servicefarm.agent.hypervisor.libvirt;

import com.sun.jna.Pointer;
import java.util.Optional;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;
import org.libvirt.jna.Libvirt;
import org.libvirt.jna.virError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the one libvirt connection of the agent. Each caller asks for it through {@link #get()},
 * which probes liveness first and opens a new connection when libvirtd went away (restarted,
 * upgraded), so one dropped connection does not end the agent.
 */
public final class LibvirtConnection implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(LibvirtConnection.class);

  /**
   * libvirt prints every error to stderr unless a handler is set, including the expected ones
   * ("domain not found" while checking whether a VM exists). Errors still reach callers as
   * LibvirtException; the handler only moves the duplicate print into our log at debug level.
   * Held in a static field so the native side never calls a collected callback.
   */
  private static final Libvirt.VirErrorCallback ERRORS_TO_DEBUG_LOG =
      (Pointer userData, virError error) -> log.debug("libvirt reported: {}", error.message);

  private final String uri;
  private Connect connect; // guarded by this

  public LibvirtConnection(String uri) {
    this.uri = uri;
  }

  public String uri() {
    return uri;
  }

  /** A live connection, opening or reopening it when needed. */
  public synchronized Connect get() throws LibvirtException {
    if (connect != null && isAlive(connect)) {
      return connect;
    }
    if (connect != null) {
      log.warn("libvirt connection to {} was lost; reconnecting", uri);
      closeQuietly(connect);
      connect = null;
    }
    Connect.setErrorCallback(ERRORS_TO_DEBUG_LOG);
    connect = new Connect(uri);
    log.info("connected to libvirt at {} (hypervisor {})", uri, connect.getType());
    return connect;
  }

  /**
   * Empty when libvirt answers now (reconnecting if it must), else why it does not: for the
   * agent's health and metrics.
   */
  public Optional<String> problem() {
    try {
      get();
      return Optional.empty();
    } catch (LibvirtException e) {
      return Optional.of(LibvirtErrors.describe(e));
    }
  }

  @Override
  public synchronized void close() {
    if (connect != null) {
      closeQuietly(connect);
      connect = null;
    }
  }

  private boolean isAlive(Connect candidate) {
    try {
      return candidate.isAlive();
    } catch (LibvirtException e) {
      log.warn("libvirt liveness probe of {} failed: {}", uri, LibvirtErrors.describe(e));
      return false;
    }
  }

  private void closeQuietly(Connect old) {
    try {
      old.close();
    } catch (LibvirtException e) {
      // A dead connection often cannot be closed cleanly; it is dropped either way.
      log.debug("closing libvirt connection to {} failed: {}", uri, LibvirtErrors.describe(e));
    }
  }
}
