package org.servicefarm.agent.hypervisor;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** What runs a host's VMs: the name sent to the controller and the libvirt domain type it uses. */
public enum HypervisorKind {
  /** libvirt's test driver: simulated domains, nothing really runs. */
  TEST("test", "test"),
  /** QEMU with hardware virtualization. */
  KVM("kvm", "kvm"),
  /** QEMU emulating the CPU in software, for hosts without /dev/kvm. */
  QEMU_TCG("qemu-tcg", "qemu");

  private static final Path KVM_DEVICE = Path.of("/dev/kvm");

  private final String wireName;
  private final String domainType;

  HypervisorKind(String wireName, String domainType) {
    this.wireName = wireName;
    this.domainType = domainType;
  }

  /** The name in {@code Register.hypervisor}. */
  public String wireName() {
    return wireName;
  }

  /** The {@code type} attribute of the libvirt {@code <domain>} element. */
  public String domainType() {
    return domainType;
  }

  /**
   * Test driver URIs ({@code test:///default}, {@code test+unix://...}) mean TEST; otherwise KVM
   * when /dev/kvm opens for reading and writing, else QEMU_TCG. Deliberately small: a later probe
   * will also ask libvirt's domain capabilities.
   */
  public static HypervisorKind forLibvirtUri(String uri) {
    if (uri.startsWith("test:") || uri.startsWith("test+")) {
      return TEST;
    }
    return kvmDeviceUsable(KVM_DEVICE) ? KVM : QEMU_TCG;
  }

  static boolean kvmDeviceUsable(Path device) {
    try {
      FileChannel.open(device, StandardOpenOption.READ, StandardOpenOption.WRITE).close();
      return true;
    } catch (IOException | SecurityException e) {
      // Not openable is the answer this probe exists to give, not a failure.
      return false;
    }
  }
}
