package org.servicefarm.controller.api;

import io.grpc.stub.StreamObserver;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import org.servicefarm.api.v1.Host;
import org.servicefarm.api.v1.LabelHostRequest;
import org.servicefarm.api.v1.ServiceDefinition;
import org.servicefarm.api.v1.SetHostOvercommitRequest;
import org.servicefarm.controller.db.Database;
import org.servicefarm.controller.db.HostLabelRepository;
import org.servicefarm.controller.db.HostRepository;
import org.servicefarm.controller.db.PlacementRuleRepository;
import org.servicefarm.controller.hosts.AgentRegistry;
import org.servicefarm.controller.hosts.AgentSession;
import org.servicefarm.controller.images.ImageCatalog;
import org.servicefarm.controller.model.FarmException;
import org.servicefarm.controller.model.HostRecord;
import org.servicefarm.controller.model.LabelSyntax;
import org.servicefarm.controller.model.PlacementPolicy;

/**
 * The FarmAdmin calls and fields about placement rules: LabelHost and SetHostOvercommit, and a
 * definition's constraints and spread as DefineService takes them and the listings show them.
 * {@link FarmAdminService} hands them here, so the admin service stays one screenful per concern.
 */
final class PlacementAdmin {
  static final double MAX_CPU_OVERCOMMIT = 64.0;
  static final double MIN_MEMORY_OVERCOMMIT = 0.1;
  static final double MAX_MEMORY_OVERCOMMIT = 4.0;
  static final int MAX_SKEW = 1000;

  private final Database db;
  private final HostRepository hosts;
  private final AgentRegistry agents;
  private final HostLabelRepository labels = new HostLabelRepository();
  private final PlacementRuleRepository rules = new PlacementRuleRepository();

  PlacementAdmin(Database db, HostRepository hosts, AgentRegistry agents) {
    this.db = db;
    this.hosts = hosts;
    this.agents = agents;
  }

  void labelHost(LabelHostRequest req, StreamObserver<Host> out) {
    ProjectGate.requireFarmWide("labelling a host");
    String hostId = Validation.hostId(req.getHostId());
    Map<String, String> set = LabelSyntax.labels("labels", req.getLabelsMap());
    Set<String> remove = new LinkedHashSet<>();
    for (String key : req.getRemoveList()) {
      remove.add(LabelSyntax.key("remove", key));
    }
    for (String key : remove) {
      if (set.containsKey(key)) {
        throw new FarmException.InvalidInput("label " + key + " is both set and removed");
      }
    }
    HostRecord host = db.inTransaction(tx -> {
      hostOrNotFound(tx, hostId);
      labels.setAdminLabels(tx, hostId, set, remove);
      return hostOrNotFound(tx, hostId);
    });
    out.onNext(proto(host));
    out.onCompleted();
  }

  void setHostOvercommit(SetHostOvercommitRequest req, StreamObserver<Host> out) {
    ProjectGate.requireFarmWide("setting a host's overcommit");
    String hostId = Validation.hostId(req.getHostId());
    double cpu = req.getCpu();
    double memory = req.getMemory();
    if (req.getReset() && (cpu != 0 || memory != 0)) {
      throw new FarmException.InvalidInput("give reset or ratios, not both");
    }
    if (!req.getReset() && cpu == 0 && memory == 0) {
      throw new FarmException.InvalidInput("give a cpu or memory ratio (or reset)");
    }
    ratio("cpu", cpu, 1.0, MAX_CPU_OVERCOMMIT);
    ratio("memory", memory, MIN_MEMORY_OVERCOMMIT, MAX_MEMORY_OVERCOMMIT);
    HostRecord host = db.inTransaction(tx -> {
      boolean found = req.getReset() ? labels.resetOvercommit(tx, hostId)
          : labels.setOvercommit(tx, hostId, cpu, memory);
      if (!found) {
        throw new FarmException.NotFound("host " + hostId + " is not registered");
      }
      return hostOrNotFound(tx, hostId);
    });
    out.onNext(proto(host));
    out.onCompleted();
  }

  /** The definition's placement rules from DefineService, each refusal naming the field. */
  static PlacementPolicy policyOf(ServiceDefinition d) {
    Map<String, String> constraints =
        LabelSyntax.labels("definition.constraints", d.getConstraintsMap());
    String spreadBy = d.getSpreadBy();
    if (spreadBy.isEmpty()) {
      if (d.getSpreadHard() || d.getSpreadMaxSkew() != 0) {
        throw new FarmException.InvalidInput(
            "definition.spread_hard and spread_max_skew need definition.spread_by");
      }
      return new PlacementPolicy(constraints, "", false, 1);
    }
    LabelSyntax.key("definition.spread_by", spreadBy);
    int skew = d.getSpreadMaxSkew() == 0 ? 1
        : (int) Validation.range("definition.spread_max_skew", d.getSpreadMaxSkew(), 1, MAX_SKEW);
    return new PlacementPolicy(constraints, spreadBy, d.getSpreadHard(), skew);
  }

  /** Records the definition's rules, in the transaction that records the definition. */
  ImageCatalog.DefinitionExtras rulesOf(PlacementPolicy policy) {
    return (tx, definition) -> rules.save(tx, definition, policy);
  }

  /** Every definition's rules that has any, for ListServiceDefinitions. */
  Map<String, PlacementPolicy> allRules() {
    return rules.all(db);
  }

  /** The definition message with its placement rules. */
  static ServiceDefinition withRules(ServiceDefinition d, PlacementPolicy policy) {
    if (policy == null || (policy.constraints().isEmpty() && !policy.spreads())) {
      return d;
    }
    ServiceDefinition.Builder b = d.toBuilder().putAllConstraints(policy.constraints());
    if (policy.spreads()) {
      b.setSpreadBy(policy.spreadBy()).setSpreadHard(policy.spreadHard())
          .setSpreadMaxSkew(policy.spreadMaxSkew());
    }
    return b.build();
  }

  private static void ratio(String field, double value, double min, double max) {
    if (value != 0 && !(value >= min && value <= max)) {
      throw new FarmException.InvalidInput(field + ": overcommit ratio " + value
          + " is outside " + min + " to " + max);
    }
  }

  private HostRecord hostOrNotFound(Database.Tx tx, String hostId) throws java.sql.SQLException {
    return hosts.find(tx, hostId).orElseThrow(
        () -> new FarmException.NotFound("host " + hostId + " is not registered"));
  }

  private Host proto(HostRecord h) {
    return ProtoMapping.host(h, agents.session(h.id()).map(AgentSession::load).orElse(null));
  }
}
