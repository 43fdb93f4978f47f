package org.servicefarm.agent.hypervisor;

/** What runs a host's VMs: the name sent to the controller and the libvirt domain type it uses. */
public enum HypervisorKind {
  /** libvirt's test driver: simulated domains, nothing really runs. */
  TEST("test", "test"),
  /** QEMU with hardware virtualization. */
  KVM("kvm", "kvm"),
  /** QEMU emulating the CPU in software, for hosts where KVM is missing or broken. */
  QEMU_TCG("qemu-tcg", "qemu");

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

  /** Whether the VMs really run in QEMU (and so need disks, images and a console). */
  public boolean runsQemu() {
    return this != TEST;
  }

  /**
   * Whether the libvirt URI names the test driver ({@code test:///default},
   * {@code test:///path/to/node.xml}, {@code test+unix://...}), which simulates VMs; every other
   * URI runs QEMU, with the accelerator {@link AcceleratorProbe} chooses.
   */
  public static boolean isTestDriverUri(String uri) {
    return uri.startsWith("test:") || uri.startsWith("test+");
  }
}
