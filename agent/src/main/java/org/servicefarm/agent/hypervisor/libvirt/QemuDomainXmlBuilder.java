package org.servicefarm.agent.hypervisor.libvirt;

import java.util.List;
import java.util.regex.Pattern;
import javax.xml.XMLConstants;
import org.servicefarm.agent.hypervisor.HypervisorKind;
import org.servicefarm.agent.hypervisor.libvirt.QemuDomainDefinition.KernelBoot;
import org.servicefarm.api.v1.PortForward;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * Builds libvirt domain XML for VMs QEMU runs, with the JDK's DOM so every value is escaped by the
 * XML writer. Besides CPU, memory and the overlay disk it wires:
 *
 * <ul>
 *   <li>boot: the image's own kernel and initrd with its command line plus the VM's identity
 *       ({@code sf.vm=<vmId> sf.host=<hostId>}, read by the guest's init), or else the disk;
 *   <li>the serial console into a file, so a guest that fails to boot can be read afterwards;
 *   <li>user-mode networking with one {@code hostfwd} per forwarded port. libvirt has no element
 *       for hostfwd, so it goes through {@code <qemu:commandline>}, and the NIC gets an explicit
 *       PCI slot because libvirt, not knowing about it, may give its slot to the virtio disk.
 * </ul>
 */
public final class QemuDomainXmlBuilder {

  public static final String QEMU_NAMESPACE = "http://libvirt.org/schemas/domain/qemu/1.0";
  static final String NETDEV_ID = "sfnet";
  static final String NIC_PCI_SLOT = "0x10";
  private static final Pattern IPV4 =
      Pattern.compile("(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");

  private QemuDomainXmlBuilder() {}

  /** Whether the text is a dotted-quad IPv4 address, the only bind address hostfwd takes. */
  public static boolean isIpv4Literal(String text) {
    return text != null && IPV4.matcher(text).matches();
  }

  public static String domainXml(QemuDomainDefinition definition) {
    Document doc = XmlSupport.newDocument();
    DomainMetadata metadata = definition.metadata();
    Element domain = DomainXmlBuilder.domainHead(doc, definition.kind().domainType(), metadata,
        definition.vcpus(), definition.memoryMb());
    domain.setAttributeNS(XMLConstants.XMLNS_ATTRIBUTE_NS_URI, "xmlns:qemu", QEMU_NAMESPACE);

    domain.appendChild(os(doc, definition));
    Element features = doc.createElement("features");
    features.appendChild(doc.createElement("acpi"));
    domain.appendChild(features);
    if (definition.kind() == HypervisorKind.KVM) {
      // The guest sees the host's CPU; only KVM can give it, TCG emulates a generic one.
      Element cpu = doc.createElement("cpu");
      cpu.setAttribute("mode", "host-passthrough");
      domain.appendChild(cpu);
    }

    Element devices = doc.createElement("devices");
    devices.appendChild(DomainXmlBuilder.disk(doc, definition.disk()));
    Element serial = doc.createElement("serial");
    serial.setAttribute("type", "file");
    Element source = doc.createElement("source");
    source.setAttribute("path",
        XmlSupport.requireXmlText("console log path", definition.consoleLog().toString()));
    serial.appendChild(source);
    Element target = doc.createElement("target");
    target.setAttribute("port", "0");
    serial.appendChild(target);
    devices.appendChild(serial);
    // No balloon: the agent never resizes guests, and the device would only take a PCI slot.
    Element memballoon = doc.createElement("memballoon");
    memballoon.setAttribute("model", "none");
    devices.appendChild(memballoon);
    domain.appendChild(devices);

    Element commandline = doc.createElementNS(QEMU_NAMESPACE, "qemu:commandline");
    for (String arg : List.of("-netdev", netdevArg(definition.forwardBind(), metadata.ports()),
        "-device", "virtio-net-pci,netdev=" + NETDEV_ID + ",addr=" + NIC_PCI_SLOT)) {
      Element element = doc.createElementNS(QEMU_NAMESPACE, "qemu:arg");
      element.setAttribute("value", arg);
      commandline.appendChild(element);
    }
    domain.appendChild(commandline);
    return XmlSupport.write(doc);
  }

  /** {@code user,id=sfnet,hostfwd=tcp:<bind>:<hostPort>-:<guestPort>,...}, one per forward. */
  static String netdevArg(String bind, List<PortForward> forwards) {
    if (!isIpv4Literal(bind)) {
      // Also what keeps a comma from smuggling further options into QEMU's argument.
      throw new IllegalArgumentException("forward bind address '" + bind + "' is not IPv4");
    }
    StringBuilder arg = new StringBuilder("user,id=").append(NETDEV_ID);
    for (PortForward forward : forwards) {
      arg.append(",hostfwd=tcp:").append(bind).append(':').append(forward.getHostPort())
          .append("-:").append(forward.getGuestPort());
    }
    return arg.toString();
  }

  /**
   * The image's command line with the VM's identity and its service ports appended, for the
   * guest's init to read (it reports ready once each port listens).
   */
  static String kernelCmdline(String imageCmdline, DomainMetadata metadata) {
    String identity = "sf.vm=" + metadata.vmId() + " sf.host=" + metadata.hostId();
    if (!metadata.ports().isEmpty()) {
      identity += " sf.ports=" + metadata.ports().stream()
          .map(p -> String.valueOf(p.getGuestPort())).collect(java.util.stream.Collectors.joining(","));
    }
    return imageCmdline.isBlank() ? identity : imageCmdline.strip() + " " + identity;
  }

  private static Element os(Document doc, QemuDomainDefinition definition) {
    Element os = doc.createElement("os");
    Element type = DomainXmlBuilder.text(doc, os, "type", "hvm");
    type.setAttribute("arch", "x86_64");
    type.setAttribute("machine", "pc");
    if (definition.kernelBoot().isPresent()) {
      KernelBoot boot = definition.kernelBoot().get();
      DomainXmlBuilder.text(doc, os, "kernel",
          XmlSupport.requireXmlText("kernel path", boot.kernel().toString()));
      if (boot.initrd().isPresent()) {
        DomainXmlBuilder.text(doc, os, "initrd",
            XmlSupport.requireXmlText("initrd path", boot.initrd().get().toString()));
      }
      DomainXmlBuilder.text(doc, os, "cmdline", XmlSupport.requireXmlText("kernel command line",
          kernelCmdline(boot.imageCmdline(), definition.metadata())));
    } else {
      Element boot = doc.createElement("boot");
      boot.setAttribute("dev", "hd");
      os.appendChild(boot);
    }
    return os;
  }
}
