package org.servicefarm.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.source.doctree.DocCommentTree;
import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.ModifiersTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.DocTrees;
import com.sun.source.util.JavacTask;
import com.sun.source.util.TreePathScanner;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.lang.model.element.Modifier;
import javax.tools.JavaCompiler;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;

/**
 * Every public type, constructor, method and field of the SDK (org.servicefarm.client) has a doc
 * comment. javac's doclint checks the comments' form while compiling; it would also demand @param
 * and @return on every method, which says nothing a sentence does not.
 */
class PublicApiDocumentedTest {
  private static final List<Path> API_PACKAGES = List.of(
      Path.of("src/main/java/org/servicefarm/client"));

  @Test
  void everyPublicMemberOfTheSdkHasADocComment() throws IOException {
    List<Path> sources = new ArrayList<>();
    for (Path dir : API_PACKAGES) {
      try (Stream<Path> files = Files.list(dir)) {
        files.filter(f -> f.toString().endsWith(".java")).forEach(sources::add);
      }
    }
    assertTrue(sources.size() > 20, "expected the SDK's sources under " + API_PACKAGES);

    assertEquals(List.of(), undocumented(sources),
        "public API without a doc comment (file:line member)");
  }

  private static List<String> undocumented(List<Path> sources) throws IOException {
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    try (StandardJavaFileManager files =
        javac.getStandardFileManager(null, null, StandardCharsets.UTF_8)) {
      JavacTask task = (JavacTask) javac.getTask(null, files, null, List.of("-proc:none"), null,
          files.getJavaFileObjectsFromPaths(sources));
      DocTrees docs = DocTrees.instance(task);
      List<String> missing = new ArrayList<>();
      for (CompilationUnitTree unit : task.parse()) {
        new MissingDocScanner(unit, docs, missing).scan(unit, null);
      }
      return missing;
    }
  }

  /** Walks one source file, descending only into public types. */
  private static final class MissingDocScanner extends TreePathScanner<Void, Void> {
    private final CompilationUnitTree unit;
    private final DocTrees docs;
    private final List<String> missing;
    private boolean inInterface;

    MissingDocScanner(CompilationUnitTree unit, DocTrees docs, List<String> missing) {
      this.unit = unit;
      this.docs = docs;
      this.missing = missing;
    }

    @Override
    public Void visitClass(ClassTree type, Void unused) {
      if (!isApi(type.getModifiers())) {
        return null; // nothing inside a non-public type is API
      }
      require(type, type.getSimpleName().toString());
      boolean outer = inInterface;
      inInterface = type.getKind() == Tree.Kind.INTERFACE;
      super.visitClass(type, unused);
      inInterface = outer;
      return null;
    }

    @Override
    public Void visitMethod(MethodTree method, Void unused) {
      // An override takes its comment from the method it overrides.
      boolean override = method.getModifiers().getAnnotations().stream()
          .anyMatch(a -> a.getAnnotationType().toString().equals("Override"));
      if (isApi(method.getModifiers()) && !override) {
        String name = method.getName().contentEquals("<init>")
            ? "constructor" : method.getName() + "()";
        require(method, name);
      }
      return null;
    }

    @Override
    public Void visitVariable(VariableTree field, Void unused) {
      if (isApi(field.getModifiers())) {
        require(field, field.getName().toString());
      }
      return null;
    }

    private boolean isApi(ModifiersTree modifiers) {
      return modifiers.getFlags().contains(Modifier.PUBLIC)
          || modifiers.getFlags().contains(Modifier.PROTECTED)
          || (inInterface && !modifiers.getFlags().contains(Modifier.PRIVATE));
    }

    private void require(Tree member, String name) {
      DocCommentTree comment = docs.getDocCommentTree(getCurrentPath());
      if (comment == null) {
        long line = unit.getLineMap().getLineNumber(docs.getSourcePositions()
            .getStartPosition(unit, member));
        String file = Path.of(unit.getSourceFile().toUri()).getFileName().toString();
        missing.add(file + ":" + line + " " + name);
      }
    }
  }
}
