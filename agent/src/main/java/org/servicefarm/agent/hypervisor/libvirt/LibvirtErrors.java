package org.servicefarm.agent.hypervisor.libvirt;

import org.libvirt.Error;
import org.libvirt.Error.ErrorNumber;
import org.libvirt.LibvirtException;

/** Classifies libvirt failures by their error code; message text is for people only. */
final class LibvirtErrors {

  private LibvirtErrors() {}

  static ErrorNumber code(LibvirtException e) {
    Error error = e.getError();
    return error == null ? null : error.getCode();
  }

  /** The domain does not exist (any more). */
  static boolean isNoDomain(LibvirtException e) {
    return code(e) == ErrorNumber.VIR_ERR_NO_DOMAIN;
  }

  /** "VIR_ERR_...: message", for error strings that reach people. */
  static String describe(LibvirtException e) {
    return code(e) + ": " + e.getMessage();
  }
}
