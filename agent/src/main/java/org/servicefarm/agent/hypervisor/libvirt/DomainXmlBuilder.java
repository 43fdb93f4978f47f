package org.servicefarm.agent.hypervisor.libvirt;

import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * Builds libvirt domain XML with the JDK's DOM, so every value is typed and escaped by the XML
 * writer rather than pasted into a string. The description is deliberately minimal (CPU, memory,
 * one qcow2 disk, the farm metadata); networking and port forwards come with the QEMU wiring.
 */
public final class DomainXmlBuilder {

  private DomainXmlBuilder() {}

  public static String domainXml(DomainDefinition definition) {
    if (definition.vcpus() < 1 || definition.memoryMb() < 1) {
      throw new IllegalArgumentException("domain " + definition.domainName()
          + " needs at least 1 vcpu and 1 MiB, got " + definition.vcpus() + " and "
          + definition.memoryMb());
    }
    Document doc = XmlSupport.newDocument();
    Element domain = doc.createElement("domain");
    domain.setAttribute("type", XmlSupport.requireXmlText("domain type", definition.domainType()));
    doc.appendChild(domain);

    text(doc, domain, "name", XmlSupport.requireXmlText("domain name", definition.domainName()));
    Element metadata = doc.createElement("metadata");
    metadata.appendChild(DomainMetadataXml.toElement(doc, definition.metadata()));
    domain.appendChild(metadata);
    text(doc, domain, "memory", Long.toString(definition.memoryMb())).setAttribute("unit", "MiB");
    text(doc, domain, "vcpu", Integer.toString(definition.vcpus()));

    Element os = doc.createElement("os");
    text(doc, os, "type", "hvm");
    domain.appendChild(os);

    Element devices = doc.createElement("devices");
    devices.appendChild(disk(doc, definition));
    domain.appendChild(devices);
    return XmlSupport.write(doc);
  }

  private static Element disk(Document doc, DomainDefinition definition) {
    Element disk = doc.createElement("disk");
    disk.setAttribute("type", "file");
    disk.setAttribute("device", "disk");
    Element driver = doc.createElement("driver");
    driver.setAttribute("name", "qemu");
    driver.setAttribute("type", "qcow2");
    disk.appendChild(driver);
    Element source = doc.createElement("source");
    source.setAttribute("file",
        XmlSupport.requireXmlText("disk path", definition.diskPath().toString()));
    disk.appendChild(source);
    Element target = doc.createElement("target");
    target.setAttribute("dev", "vda");
    target.setAttribute("bus", "virtio");
    disk.appendChild(target);
    return disk;
  }

  private static Element text(Document doc, Element parent, String name, String value) {
    Element element = doc.createElement(name);
    element.setTextContent(value);
    parent.appendChild(element);
    return element;
  }
}
