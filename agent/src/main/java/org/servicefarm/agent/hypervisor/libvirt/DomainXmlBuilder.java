package org.servicefarm.agent.hypervisor.libvirt;

import java.nio.file.Path;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * Builds libvirt domain XML for the test driver with the JDK's DOM, so every value is typed and
 * escaped by the XML writer rather than pasted into a string. The description is deliberately
 * minimal (CPU, memory, one qcow2 disk, the farm metadata): the test driver runs nothing. QEMU
 * domains come from {@link QemuDomainXmlBuilder}, which shares the pieces here.
 */
public final class DomainXmlBuilder {

  private DomainXmlBuilder() {}

  public static String domainXml(DomainDefinition definition) {
    Document doc = XmlSupport.newDocument();
    Element domain = domainHead(doc, definition.domainType(), definition.metadata(),
        definition.vcpus(), definition.memoryMb());

    Element os = doc.createElement("os");
    text(doc, os, "type", "hvm");
    domain.appendChild(os);

    Element devices = doc.createElement("devices");
    devices.appendChild(disk(doc, definition.diskPath()));
    domain.appendChild(devices);
    return XmlSupport.write(doc);
  }

  /** The root element with type, name, farm metadata, memory and vCPUs, appended to doc. */
  static Element domainHead(
      Document doc, String domainType, DomainMetadata metadata, int vcpus, long memoryMb) {
    if (vcpus < 1 || memoryMb < 1) {
      throw new IllegalArgumentException("domain " + DomainDefinition.domainName(metadata.vmId())
          + " needs at least 1 vcpu and 1 MiB, got " + vcpus + " and " + memoryMb);
    }
    Element domain = doc.createElement("domain");
    domain.setAttribute("type", XmlSupport.requireXmlText("domain type", domainType));
    doc.appendChild(domain);
    text(doc, domain, "name",
        XmlSupport.requireXmlText("domain name", DomainDefinition.domainName(metadata.vmId())));
    Element metadataElement = doc.createElement("metadata");
    metadataElement.appendChild(DomainMetadataXml.toElement(doc, metadata));
    domain.appendChild(metadataElement);
    text(doc, domain, "memory", Long.toString(memoryMb)).setAttribute("unit", "MiB");
    text(doc, domain, "vcpu", Integer.toString(vcpus));
    return domain;
  }

  /** A virtio qcow2 disk, the VM's only one. */
  static Element disk(Document doc, Path diskPath) {
    Element disk = doc.createElement("disk");
    disk.setAttribute("type", "file");
    disk.setAttribute("device", "disk");
    Element driver = doc.createElement("driver");
    driver.setAttribute("name", "qemu");
    driver.setAttribute("type", "qcow2");
    disk.appendChild(driver);
    Element source = doc.createElement("source");
    source.setAttribute("file", XmlSupport.requireXmlText("disk path", diskPath.toString()));
    disk.appendChild(source);
    Element target = doc.createElement("target");
    target.setAttribute("dev", "vda");
    target.setAttribute("bus", "virtio");
    disk.appendChild(target);
    return disk;
  }

  static Element text(Document doc, Element parent, String name, String value) {
    Element element = doc.createElement(name);
    element.setTextContent(value);
    parent.appendChild(element);
    return element;
  }
}
