package org.servicefarm.agent.hypervisor.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.libvirt.QemuDomainDefinition.KernelBoot;
import org.servicefarm.api.v1.PortForward;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;

class QemuDomainXmlBuilderTest {

  private static final Path DISK = Path.of("/var/lib/servicefarm/agent/disks/vm-1.qcow2");
  private static final Path CONSOLE = Path.of("/var/lib/servicefarm/agent/console/vm-1.log");
  private static final KernelBoot KERNEL_BOOT = new KernelBoot(Path.of("/cache/aaa"),
      Optional.of(Path.of("/cache/bbb")), "root=/dev/vda rw init=/sbin/servicefarm-init");

  private static DomainMetadata metadata(String vmId) {
    return new DomainMetadata(vmId, "host-1", 3, List.of(forward(80, 20001), forward(443, 20002)),
        List.of("aaa", "bbb"));
  }

  private static PortForward forward(int guest, int host) {
    return PortForward.newBuilder().setGuestPort(guest).setHostPort(host).build();
  }

  private static QemuDomainDefinition definition(HypervisorKind kind, Optional<KernelBoot> boot) {
    return new QemuDomainDefinition(kind, metadata("vm-1"), 2, 512, DISK, boot, CONSOLE,
        "127.0.0.1");
  }

  private static Element parse(String xml) throws Exception {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setNamespaceAware(true);
    Document doc = factory.newDocumentBuilder().parse(new InputSource(new StringReader(xml)));
    return doc.getDocumentElement();
  }

  private static Element only(Element parent, String tag) {
    NodeList found = parent.getElementsByTagName(tag);
    assertEquals(1, found.getLength(), "expected one <" + tag + ">");
    return (Element) found.item(0);
  }

  private static List<String> qemuArgs(Element domain) {
    NodeList args = domain.getElementsByTagNameNS(QemuDomainXmlBuilder.QEMU_NAMESPACE, "arg");
    List<String> values = new ArrayList<>();
    for (int i = 0; i < args.getLength(); i++) {
      values.add(((Element) args.item(i)).getAttribute("value"));
    }
    return values;
  }

  @Test
  void tcgDomainBootsTheImagesKernelWithTheVmsIdentityAndNoHostCpu() throws Exception {
    Element domain = parse(QemuDomainXmlBuilder.domainXml(
        definition(HypervisorKind.QEMU_TCG, Optional.of(KERNEL_BOOT))));

    assertEquals("qemu", domain.getAttribute("type"));
    assertEquals("sf-vm-1", only(domain, "name").getTextContent());
    assertEquals("512", only(domain, "memory").getTextContent());
    assertEquals("MiB", only(domain, "memory").getAttribute("unit"));
    assertEquals("2", only(domain, "vcpu").getTextContent());
    assertEquals("/cache/aaa", only(domain, "kernel").getTextContent());
    assertEquals("/cache/bbb", only(domain, "initrd").getTextContent());
    assertEquals("root=/dev/vda rw init=/sbin/servicefarm-init sf.vm=vm-1 sf.host=host-1 sf.ports=80,443",
        only(domain, "cmdline").getTextContent());
    assertEquals(0, domain.getElementsByTagName("boot").getLength(), "kernel boot has no <boot>");
    assertEquals(0, domain.getElementsByTagName("cpu").getLength(), "TCG cannot pass a CPU on");
    assertEquals(DISK.toString(), only(only(domain, "disk"), "source").getAttribute("file"));
    assertEquals("qcow2", only(only(domain, "disk"), "driver").getAttribute("type"));
    assertEquals("virtio", only(only(domain, "disk"), "target").getAttribute("bus"));
    Element serial = only(domain, "serial");
    assertEquals("file", serial.getAttribute("type"));
    assertEquals(CONSOLE.toString(), only(serial, "source").getAttribute("path"));
    assertEquals("none", only(domain, "memballoon").getAttribute("model"));
  }

  @Test
  void kvmDomainWithoutKernelBootsFromItsDiskOnTheHostCpu() throws Exception {
    Element domain = parse(QemuDomainXmlBuilder.domainXml(
        definition(HypervisorKind.KVM, Optional.empty())));

    assertEquals("kvm", domain.getAttribute("type"));
    assertEquals("hd", only(only(domain, "os"), "boot").getAttribute("dev"));
    assertEquals(0, domain.getElementsByTagName("kernel").getLength());
    assertEquals(0, domain.getElementsByTagName("cmdline").getLength());
    assertEquals("host-passthrough", only(domain, "cpu").getAttribute("mode"));
  }

  @Test
  void everyForwardedPortBecomesAHostfwdOnTheBindAddressAndTheNicHasItsOwnSlot()
      throws Exception {
    String xml = QemuDomainXmlBuilder.domainXml(
        definition(HypervisorKind.QEMU_TCG, Optional.of(KERNEL_BOOT)));
    Element domain = parse(xml);

    assertEquals(List.of("-netdev",
            "user,id=sfnet,hostfwd=tcp:127.0.0.1:20001-:80,hostfwd=tcp:127.0.0.1:20002-:443",
            "-device", "virtio-net-pci,netdev=sfnet,addr=0x10"),
        qemuArgs(domain));
    assertEquals(QemuDomainXmlBuilder.QEMU_NAMESPACE, domain.getAttribute("xmlns:qemu"),
        "libvirt ignores <qemu:commandline> without the namespace on <domain>");
    assertEquals(Optional.of(metadata("vm-1")), DomainMetadataXml.fromDomainXml(xml));
  }

  @Test
  void vmWithoutForwardsStillGetsItsNetwork() {
    assertEquals("user,id=sfnet", QemuDomainXmlBuilder.netdevArg("0.0.0.0", List.of()));
  }

  @Test
  void hostilePathsAndCommandLineAreEscapedAndParseBack() throws Exception {
    Path hostileDisk = Path.of("/srv/x<&'\"/disk ]]>.qcow2");
    KernelBoot hostileBoot = new KernelBoot(Path.of("/k<&>"), Optional.empty(),
        "console=ttyS0 note=\"<&'>\"");
    String xml = QemuDomainXmlBuilder.domainXml(new QemuDomainDefinition(HypervisorKind.QEMU_TCG,
        metadata("vm-1"), 1, 256, hostileDisk, Optional.of(hostileBoot), CONSOLE, "10.0.0.5"));

    assertFalse(xml.contains(hostileDisk.toString()), "raw disk path leaked into the XML");
    Element domain = parse(xml);
    assertEquals(hostileDisk.toString(), only(only(domain, "disk"), "source").getAttribute("file"));
    assertEquals("/k<&>", only(domain, "kernel").getTextContent());
    assertEquals("console=ttyS0 note=\"<&'>\" sf.vm=vm-1 sf.host=host-1 sf.ports=80,443",
        only(domain, "cmdline").getTextContent());
    assertEquals(0, domain.getElementsByTagName("initrd").getLength());
  }

  @Test
  void bindAddressThatCouldSmuggleQemuOptionsIsRefused() {
    var e = assertThrows(IllegalArgumentException.class, () -> definition("127.0.0.1,smb=/"));
    assertTrue(e.getMessage().contains("127.0.0.1,smb=/"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> definition("localhost"));
    assertThrows(IllegalArgumentException.class, () -> definition("256.1.1.1"));
  }

  private static QemuDomainDefinition definition(String bind) {
    return new QemuDomainDefinition(HypervisorKind.QEMU_TCG, metadata("vm-1"), 1, 256, DISK,
        Optional.empty(), CONSOLE, bind);
  }
}
