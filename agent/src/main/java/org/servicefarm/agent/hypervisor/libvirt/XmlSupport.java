package org.servicefarm.agent.hypervisor.libvirt;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerException;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.w3c.dom.Document;
import org.w3c.dom.Node;
import org.xml.sax.InputSource;
import org.xml.sax.SAXException;

/**
 * The JDK's DOM parser and writer, set up once per thread: namespace aware, no DTDs, no external
 * entities. Setting them up looks the implementation up on the class path each time, which cost
 * more than parsing a domain's XML; neither is thread-safe, so each thread keeps its own.
 */
final class XmlSupport {
  private static final ThreadLocal<DocumentBuilder> BUILDERS =
      ThreadLocal.withInitial(XmlSupport::newBuilder);
  private static final ThreadLocal<Transformer> WRITERS =
      ThreadLocal.withInitial(XmlSupport::newWriter);

  private XmlSupport() {}

  static Document newDocument() {
    return builder().newDocument();
  }

  static Document parse(String xml) throws SAXException {
    try {
      return builder().parse(new InputSource(new StringReader(xml)));
    } catch (IOException e) {
      // Reading from a String cannot fail with I/O; if it does, the JDK is broken.
      throw new IllegalStateException("reading XML from memory failed", e);
    }
  }

  /** Serializes without an XML declaration; the DOM writer escapes text and attributes. */
  static String write(Node node) {
    Transformer transformer = WRITERS.get();
    try {
      StringWriter out = new StringWriter();
      transformer.transform(new DOMSource(node), new StreamResult(out));
      return out.toString();
    } catch (TransformerException e) {
      throw new IllegalStateException("the JDK's XML writer failed on a DOM we built", e);
    } finally {
      transformer.reset();
      configure(transformer);
    }
  }

  private static Transformer newWriter() {
    try {
      TransformerFactory factory = TransformerFactory.newInstance();
      factory.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
      factory.setAttribute(XMLConstants.ACCESS_EXTERNAL_STYLESHEET, "");
      return configure(factory.newTransformer());
    } catch (javax.xml.transform.TransformerConfigurationException e) {
      throw new IllegalStateException("the JDK's XML writer lacks a standard feature", e);
    }
  }

  private static Transformer configure(Transformer transformer) {
    transformer.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
    transformer.setOutputProperty(OutputKeys.INDENT, "yes");
    transformer.setOutputProperty("{http://xml.apache.org/xslt}indent-amount", "2");
    return transformer;
  }

  /**
   * XML 1.0 cannot carry most control characters even escaped, so values holding them are refused
   * before they reach a document instead of producing XML nobody can read back.
   */
  static String requireXmlText(String what, String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      boolean allowed = c == '\t' || c == '\n' || c == '\r'
          || (c >= 0x20 && c != 0xFFFE && c != 0xFFFF);
      if (!allowed) {
        throw new IllegalArgumentException(
            what + " holds character U+" + String.format("%04X", (int) c)
                + ", which XML cannot carry");
      }
    }
    return value;
  }

  /** This thread's parser, as new: reset() drops what the last document left behind. */
  private static DocumentBuilder builder() {
    DocumentBuilder builder = BUILDERS.get();
    builder.reset();
    return builder;
  }

  private static DocumentBuilder newBuilder() {
    try {
      DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
      factory.setNamespaceAware(true);
      factory.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
      factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      factory.setXIncludeAware(false);
      factory.setExpandEntityReferences(false);
      return factory.newDocumentBuilder();
    } catch (ParserConfigurationException e) {
      throw new IllegalStateException("the JDK's XML parser lacks a standard feature", e);
    }
  }
}
