package org.servicefarm.controller;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import io.grpc.Status;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.servicefarm.controller.db.Database;

/**
 * The controller's structure as rules the build checks (docs/architecture.md, "Controller
 * packages"): dependencies point one way, down the layers {@code api → broker → {reconcile,
 * placement, lifecycle} → hosts → db, model}; no two packages import each other, however far
 * round; SQL is written only in {@code db/}; and only the edges make a gRPC status. No rule lists exceptions: a change that needs one
 * needs a port instead (an interface the lower package owns and the upper one implements).
 */
class ArchitectureTest {
  private static final String ROOT = "org.servicefarm.controller";
  private static JavaClasses classes;

  @BeforeAll
  static void importMainClasses() {
    classes = new ClassFileImporter()
        .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages(ROOT);
  }

  @Test
  void packagesDependOnlyOnTheLayersBelowThem() {
    layeredArchitecture().consideringOnlyDependenciesInLayers()
        // Every class of the controller is in one layer: a new package must be given its place.
        .ensureAllClassesAreContainedInArchitecture()
        // The wiring: Controller and the command line. Nothing depends on it.
        .layer("Wiring").definedBy(ROOT)
        // The edges clients and operators reach: gRPC services, HTTP, health, metrics.
        .layer("Api").definedBy(ROOT + ".api..")
        .layer("Web").definedBy(ROOT + ".web..", ROOT + ".dashboard..", ROOT + ".health..",
            ROOT + ".metrics..")
        .layer("Auth").definedBy(ROOT + ".auth..")
        .layer("Broker").definedBy(ROOT + ".broker..")
        .layer("Domain").definedBy(ROOT + ".reconcile..", ROOT + ".placement..",
            ROOT + ".lifecycle..")
        .layer("Hosts").definedBy(ROOT + ".hosts..")
        // Services the layers above share, beside hosts and as low: none uses another layer's.
        .layer("Services").definedBy(ROOT + ".images..", ROOT + ".operations..",
            ROOT + ".events..", ROOT + ".audit..", ROOT + ".ha..", ROOT + ".projects..",
            ROOT + ".routes..")
        .layer("Persistence").definedBy(ROOT + ".db..")
        .layer("Model").definedBy(ROOT + ".model..")
        .whereLayer("Wiring").mayNotBeAccessedByAnyLayer()
        .whereLayer("Api").mayOnlyBeAccessedByLayers("Wiring")
        .whereLayer("Web").mayOnlyBeAccessedByLayers("Wiring")
        .whereLayer("Auth").mayOnlyBeAccessedByLayers("Wiring", "Api", "Web")
        .whereLayer("Broker").mayOnlyBeAccessedByLayers("Wiring", "Api", "Web", "Auth")
        .whereLayer("Domain").mayOnlyBeAccessedByLayers("Wiring", "Api", "Web", "Auth", "Broker")
        .whereLayer("Hosts").mayOnlyBeAccessedByLayers("Wiring", "Api", "Web", "Auth", "Broker",
            "Domain")
        .whereLayer("Services").mayOnlyBeAccessedByLayers("Wiring", "Api", "Web", "Auth",
            "Broker", "Domain")
        .whereLayer("Persistence").mayOnlyBeAccessedByLayers("Wiring", "Api", "Web", "Auth",
            "Broker", "Domain", "Hosts", "Services")
        .whereLayer("Model").mayOnlyBeAccessedByLayers("Wiring", "Api", "Web", "Auth", "Broker",
            "Domain", "Hosts", "Services", "Persistence")
        .check(classes);
  }

  @Test
  void onlyTheEdgesMakeAGrpcStatus() {
    noClasses().that().resideOutsideOfPackages(ROOT + ".api..", ROOT + ".auth..", ROOT + ".ha..")
        .should().callMethod(Status.class, "withDescription", String.class)
        .because("a domain failure is a FarmException, which api.StatusMapper alone turns into a"
            + " status; only the edges (the services, the interceptors, the leader's relay) speak"
            + " gRPC")
        .check(classes);
  }

  @Test
  void noTwoPackagesDependOnEachOther() {
    slices().matching(ROOT + ".(**)").should().beFreeOfCycles().check(classes);
  }

  @Test
  void sqlIsWrittenOnlyInTheDbPackage() {
    noClasses().that().resideOutsideOfPackage(ROOT + ".db..")
        .should().callMethodWhere(runsSql())
        .orShould().dependOnClassesThat().areAssignableTo(Statement.class)
        .because("SQL lives in db/, beside the code that maps its rows")
        .check(classes);
  }

  /** A call that hands a statement's text to the database. */
  private static DescribedPredicate<JavaMethodCall> runsSql() {
    Set<String> sqlMethods = Set.of("query", "queryOne", "update");
    Set<String> connectionMethods = Set.of("prepareStatement", "prepareCall", "createStatement",
        "nativeSQL");
    return DescribedPredicate.describe("hands SQL to the database", call -> {
      String owner = call.getTargetOwner().getName();
      String name = call.getName();
      return ((owner.equals(Database.class.getName())
              || owner.equals(Database.Tx.class.getName())) && sqlMethods.contains(name))
          || (call.getTargetOwner().isAssignableTo(Connection.class)
              && connectionMethods.contains(name))
          || call.getTargetOwner().isAssignableTo(PreparedStatement.class)
          || call.getTargetOwner().isAssignableTo(CallableStatement.class);
    });
  }
}
