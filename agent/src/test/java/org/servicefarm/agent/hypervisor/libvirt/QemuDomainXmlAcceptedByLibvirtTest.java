package org.servicefarm.agent.hypervisor.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.libvirt.QemuDomainDefinition.KernelBoot;
import org.servicefarm.agent.testing.RealHostPrerequisites;
import org.servicefarm.api.v1.PortForward;

/**
 * Defines (never starts) a QEMU domain built by {@link QemuDomainXmlBuilder} on the real
 * libvirtd, proving libvirt accepts the XML, including the qemu:commandline passthrough.
 */
class QemuDomainXmlAcceptedByLibvirtTest {

  private static final String URI = "qemu:///system";

  @TempDir
  Path dir;

  @Test
  void libvirtAcceptsATcgDomainWithKernelBootAndPortForwards() throws Exception {
    LibvirtConnection connection = new LibvirtConnection(URI);
    try {
      Connect connect = reachable(connection);
      DomainMetadata metadata = new DomainMetadata("xmltest-" + UUID.randomUUID(), "host-xmltest",
          1, List.of(PortForward.newBuilder().setGuestPort(80).setHostPort(28081).build()),
          List.of());
      String xml = QemuDomainXmlBuilder.domainXml(new QemuDomainDefinition(
          HypervisorKind.QEMU_TCG, metadata, 1, 128, dir.resolve("disk.qcow2"),
          Optional.of(new KernelBoot(dir.resolve("vmlinuz"), Optional.of(dir.resolve("initrd")),
              "root=/dev/vda rw console=ttyS0")),
          dir.resolve("console.log"), "127.0.0.1"));

      Domain domain = connect.domainDefineXML(xml);
      try {
        String defined = domain.getXMLDesc(Domain.XMLFlags.INACTIVE);
        assertEquals(Optional.of(metadata), DomainMetadataXml.fromDomainXml(defined));
        assertTrue(defined.contains("hostfwd=tcp:127.0.0.1:28081-:80"),
            "libvirt dropped the port forward:\n" + defined);
        assertTrue(defined.contains("sf.vm=" + metadata.vmId()), defined);
      } finally {
        domain.undefine(Domain.UndefineFlags.MANAGED_SAVE);
      }
    } finally {
      connection.close();
    }
  }

  private static Connect reachable(LibvirtConnection connection) {
    try {
      return connection.get();
    } catch (LibvirtException e) {
      RealHostPrerequisites.require(false, "libvirtd at " + URI + " is not reachable ("
          + LibvirtErrors.describe(e) + "), so the QEMU domain XML was not checked by libvirt");
      throw new AssertionError("unreachable", e);
    }
  }
}
