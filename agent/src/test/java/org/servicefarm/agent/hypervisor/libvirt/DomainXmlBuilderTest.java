package org.servicefarm.agent.hypervisor.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringReader;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.servicefarm.api.v1.PortForward;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.xml.sax.InputSource;

class DomainXmlBuilderTest {

  private static final String HOSTILE = "vm<&'\">]]>";
  private static final Path HOSTILE_DISK = Path.of("/var/lib/x<&'\"/disk ]]>.qcow2");

  private static DomainMetadata metadata(String vmId) {
    return new DomainMetadata(vmId, "host-1", 7, List.of(forward(80, 20001), forward(443, 20002)),
        List.of());
  }

  private static PortForward forward(int guest, int host) {
    return PortForward.newBuilder().setGuestPort(guest).setHostPort(host).build();
  }

  @Test
  void hostileVmIdAndDiskPathAreEscapedAndParseBack() throws Exception {
    String xml = DomainXmlBuilder.domainXml(
        new DomainDefinition("test", metadata(HOSTILE), 2, 512, HOSTILE_DISK));

    assertFalse(xml.contains(HOSTILE), "raw hostile vm id leaked into the XML:\n" + xml);
    assertFalse(xml.contains(HOSTILE_DISK.toString()), "raw disk path leaked into the XML");
    Document doc = DocumentBuilderFactory.newInstance()
        .newDocumentBuilder().parse(new InputSource(new StringReader(xml)));
    Element domain = doc.getDocumentElement();
    assertEquals("test", domain.getAttribute("type"));
    assertEquals("sf-" + HOSTILE, domain.getElementsByTagName("name").item(0).getTextContent());
    Element source = (Element) domain.getElementsByTagName("source").item(0);
    assertEquals(HOSTILE_DISK.toString(), source.getAttribute("file"));
    assertEquals("512", domain.getElementsByTagName("memory").item(0).getTextContent());
    assertEquals(Optional.of(metadata(HOSTILE)), DomainMetadataXml.fromDomainXml(xml));
  }

  @Test
  void metadataRoundTripsAsAStandaloneElement() throws Exception {
    DomainMetadata original = metadata("vm-42");
    String element = DomainMetadataXml.toElementXml(original);

    assertTrue(element.contains(DomainMetadataXml.NAMESPACE), element);
    assertEquals(original, DomainMetadataXml.fromElementXml(element));
  }

  @Test
  void metadataKeepsTheOwningHostAndTheBlobsTheDomainNeeds() throws Exception {
    DomainMetadata original = new DomainMetadata("vm-7", "host-b", 2, List.of(),
        List.of("a".repeat(64), "b".repeat(64)));
    DomainMetadata read = DomainMetadataXml.fromElementXml(DomainMetadataXml.toElementXml(original));
    assertEquals("host-b", read.hostId());
    assertEquals(original.blobs(), read.blobs());
  }

  @Test
  void metadataWithoutAHostBelongsToNoAgent() {
    String ownerless = "<sf:vm xmlns:sf='" + DomainMetadataXml.NAMESPACE + "'><sf:id>vm-1</sf:id>"
        + "<sf:generation>1</sf:generation></sf:vm>";
    var e = assertThrows(MalformedMetadataException.class,
        () -> DomainMetadataXml.fromElementXml(ownerless));
    assertTrue(e.getMessage().contains("<host>"), e.getMessage());
  }

  @Test
  void metadataRoundTripsWithoutPorts() throws Exception {
    DomainMetadata original = new DomainMetadata("vm-1", "host-1", 0, List.of(), List.of());
    String element = DomainMetadataXml.toElementXml(original);
    assertEquals(original, DomainMetadataXml.fromElementXml(element));
  }

  @Test
  void domainWithoutFarmMetadataIsNotAFarmDomain() throws Exception {
    String foreign = "<domain type='test'><name>test</name><metadata>"
        + "<other:thing xmlns:other='https://example.org/other'/></metadata></domain>";
    assertEquals(Optional.empty(), DomainMetadataXml.fromDomainXml(foreign));
  }

  @Test
  void metadataWithBrokenPortIsReportedNotGuessed() {
    String broken = "<sf:vm xmlns:sf='" + DomainMetadataXml.NAMESPACE + "'><sf:id>vm-1</sf:id>"
        + "<sf:host>host-1</sf:host><sf:generation>1</sf:generation><sf:ports><sf:forward guest='80' host='99999'/>"
        + "</sf:ports></sf:vm>";
    var e = assertThrows(MalformedMetadataException.class,
        () -> DomainMetadataXml.fromElementXml(broken));
    assertTrue(e.getMessage().contains("99999"), e.getMessage());
  }

  @Test
  void controlCharactersXmlCannotCarryAreRefused() {
    var e = assertThrows(IllegalArgumentException.class, () -> DomainXmlBuilder.domainXml(
        new DomainDefinition("test", metadata("vm\u0001"), 1, 64, Path.of("/d.qcow2"))));
    assertTrue(e.getMessage().contains("U+0001"), e.getMessage());
  }
}
