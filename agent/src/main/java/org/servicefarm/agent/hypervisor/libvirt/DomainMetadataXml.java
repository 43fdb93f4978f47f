package org.servicefarm.agent.hypervisor.libvirt;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.xml.XMLConstants;
import org.servicefarm.api.v1.PortForward;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.xml.sax.SAXException;

/**
 * Writes and reads {@link DomainMetadata} as one element in the farm's own namespace, the form
 * libvirt keeps under a domain's {@code <metadata>} and the archive store keeps beside a disk:
 *
 * <pre>{@code
 * <sf:vm xmlns:sf="https://servicefarm.org/xmlns/domain/1">
 *   <sf:id>vm-1</sf:id>
 *   <sf:host>host-1</sf:host>
 *   <sf:generation>3</sf:generation>
 *   <sf:ports><sf:forward guest="80" host="20000"/></sf:ports>
 *   <sf:blobs><sf:blob>9f86d0…</sf:blob></sf:blobs>
 * </sf:vm>
 * }</pre>
 */
public final class DomainMetadataXml {

  public static final String NAMESPACE = "https://servicefarm.org/xmlns/domain/1";
  public static final String PREFIX = "sf";

  private DomainMetadataXml() {}

  /** The metadata as a standalone element, with its namespace declared on it. */
  public static String toElementXml(DomainMetadata metadata) {
    Document doc = XmlSupport.newDocument();
    doc.appendChild(toElement(doc, metadata));
    return XmlSupport.write(doc);
  }

  /**
   * The metadata for {@code virDomainSetMetadata}: the same element without a namespace, because
   * libvirt puts it into the namespace passed beside it and refuses an element that already
   * declares one.
   */
  public static String toSetMetadataXml(DomainMetadata metadata) {
    Document doc = XmlSupport.newDocument();
    doc.appendChild(buildElement(doc, metadata, false));
    return XmlSupport.write(doc);
  }

  /** Reads a standalone element written by {@link #toElementXml}. */
  public static DomainMetadata fromElementXml(String xml) throws MalformedMetadataException {
    Element root = parse(xml).getDocumentElement();
    if (!isFarmElement(root, "vm")) {
      throw new MalformedMetadataException(
          "expected <vm> in namespace " + NAMESPACE + ", found <" + root.getTagName() + ">");
    }
    return read(root);
  }

  /**
   * The farm metadata of a whole libvirt domain description, or empty when the domain carries none
   * (it is not a farm domain).
   */
  public static Optional<DomainMetadata> fromDomainXml(String domainXml)
      throws MalformedMetadataException {
    Element domain = parse(domainXml).getDocumentElement();
    for (Element metadata : children(domain, null, "metadata")) {
      List<Element> vms = children(metadata, NAMESPACE, "vm");
      if (!vms.isEmpty()) {
        return Optional.of(read(vms.get(0)));
      }
    }
    return Optional.empty();
  }

  static Element toElement(Document doc, DomainMetadata metadata) {
    return buildElement(doc, metadata, true);
  }

  private static Element buildElement(Document doc, DomainMetadata metadata, boolean qualified) {
    Element vm = element(doc, "vm", qualified);
    if (qualified) {
      vm.setAttributeNS(XMLConstants.XMLNS_ATTRIBUTE_NS_URI, "xmlns:" + PREFIX, NAMESPACE);
    }
    Element id = element(doc, "id", qualified);
    id.setTextContent(XmlSupport.requireXmlText("vm id", metadata.vmId()));
    vm.appendChild(id);
    Element host = element(doc, "host", qualified);
    host.setTextContent(XmlSupport.requireXmlText("host id", metadata.hostId()));
    vm.appendChild(host);
    Element generation = element(doc, "generation", qualified);
    generation.setTextContent(Long.toString(metadata.generation()));
    vm.appendChild(generation);
    Element ports = element(doc, "ports", qualified);
    for (PortForward forward : metadata.ports()) {
      Element element = element(doc, "forward", qualified);
      element.setAttribute("guest", Integer.toString(forward.getGuestPort()));
      element.setAttribute("host", Integer.toString(forward.getHostPort()));
      ports.appendChild(element);
    }
    vm.appendChild(ports);
    Element blobs = element(doc, "blobs", qualified);
    for (String digest : metadata.blobs()) {
      Element blob = element(doc, "blob", qualified);
      blob.setTextContent(XmlSupport.requireXmlText("blob digest", digest));
      blobs.appendChild(blob);
    }
    vm.appendChild(blobs);
    return vm;
  }

  private static DomainMetadata read(Element vm) throws MalformedMetadataException {
    String vmId = requiredText(vm, "id");
    String hostId = requiredText(vm, "host");
    long generation = parseNumber(requiredText(vm, "generation"), "generation", vmId);
    List<PortForward> forwards = new ArrayList<>();
    for (Element ports : children(vm, NAMESPACE, "ports")) {
      for (Element forward : children(ports, NAMESPACE, "forward")) {
        forwards.add(PortForward.newBuilder()
            .setGuestPort(port(forward.getAttribute("guest"), "guest", vmId))
            .setHostPort(port(forward.getAttribute("host"), "host", vmId))
            .build());
      }
    }
    List<String> blobs = new ArrayList<>();
    for (Element list : children(vm, NAMESPACE, "blobs")) {
      for (Element blob : children(list, NAMESPACE, "blob")) {
        blobs.add(blob.getTextContent().trim());
      }
    }
    return new DomainMetadata(vmId, hostId, generation, forwards, blobs);
  }

  private static String requiredText(Element parent, String name)
      throws MalformedMetadataException {
    List<Element> found = children(parent, NAMESPACE, name);
    if (found.isEmpty()) {
      throw new MalformedMetadataException("farm metadata lacks <" + name + ">");
    }
    return found.get(0).getTextContent();
  }

  private static int port(String text, String which, String vmId)
      throws MalformedMetadataException {
    long port = parseNumber(text, which + " port", vmId);
    if (port < 1 || port > 65535) {
      throw new MalformedMetadataException(
          "farm metadata of vm " + vmId + ": " + which + " port " + port + " is not 1-65535");
    }
    return (int) port;
  }

  private static long parseNumber(String text, String what, String vmId)
      throws MalformedMetadataException {
    try {
      return Long.parseLong(text.trim());
    } catch (NumberFormatException e) {
      throw new MalformedMetadataException(
          "farm metadata of vm " + vmId + ": " + what + " '" + text + "' is not a number", e);
    }
  }

  private static Element element(Document doc, String localName, boolean qualified) {
    return qualified
        ? doc.createElementNS(NAMESPACE, PREFIX + ":" + localName)
        : doc.createElement(localName);
  }

  private static boolean isFarmElement(Element element, String localName) {
    return NAMESPACE.equals(element.getNamespaceURI()) && localName.equals(element.getLocalName());
  }

  /** Child elements with the given name; {@code namespace} null means no namespace. */
  private static List<Element> children(Element parent, String namespace, String localName) {
    List<Element> found = new ArrayList<>();
    for (Node node = parent.getFirstChild(); node != null; node = node.getNextSibling()) {
      if (node instanceof Element element
          && localName.equals(element.getLocalName())
          && (namespace == null
              ? element.getNamespaceURI() == null
              : namespace.equals(element.getNamespaceURI()))) {
        found.add(element);
      }
    }
    return found;
  }

  private static Document parse(String xml) throws MalformedMetadataException {
    try {
      return XmlSupport.parse(xml);
    } catch (SAXException e) {
      throw new MalformedMetadataException("unreadable XML: " + e.getMessage(), e);
    }
  }
}
