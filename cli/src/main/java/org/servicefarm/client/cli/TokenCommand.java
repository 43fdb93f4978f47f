package org.servicefarm.client.cli;

import java.util.List;
import org.servicefarm.api.v1.ApiToken;
import org.servicefarm.api.v1.CreateTokenResponse;
import org.servicefarm.api.v1.ListTokensResponse;
import org.servicefarm.client.FarmClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** farmctl token: hand out and withdraw the bearer tokens clients and admins call with. */
@Command(
    name = "token",
    description = "Create, list and revoke bearer tokens (needs an admin token).",
    footer = {
      "%nExample:",
      "  farmctl token create --name ci --role client",
      "  farmctl --project team-a token create --name team-a-ci --role client",
      "  FARM_TOKEN=sf_... farmctl request redis",
    })
final class TokenCommand {

  /** The roles a token may have. */
  // Lower case: as typed, and as the farm names roles.
  enum TokenRole { client, admin, gateway }

  @Spec
  private CommandSpec spec;

  @Command(name = "create",
      description = {"Create a token and print its secret. The secret is shown only now:",
          "the farm keeps just its hash."},
      footer = {"%nExample:", "  farmctl token create --name ci --role client"})
  void create(
      @Option(names = "--name", required = true, paramLabel = "NAME",
          description = "1 to 63 of a-z, 0-9, '.', '_' and '-'; unique among live tokens.")
          String name,
      @Option(names = "--role", required = true, paramLabel = "ROLE",
          description = "${COMPLETION-CANDIDATES}: clients may request services, admins"
              + " may do everything, gateways may request, renew and release leases and"
              + " watch the gateway routes.")
          TokenRole role) {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      CreateTokenResponse created = client.tokens().create(name, role.name());
      ApiToken token = created.getToken();
      Table table = new Table("ID", "NAME", "ROLE", "PROJECT", "SECRET")
          .row(token.getId(), token.getName(), token.getRole(),
              token.getProject().isEmpty() ? "(farm-wide)" : token.getProject(),
              created.getSecret());
      farmCtl.output().print(created, table);
    }
  }

  @Command(name = "list", description = "List every token, live and revoked (never secrets).",
      footer = {"%nExample:", "  farmctl token list"})
  void list() {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      List<ApiToken> tokens = client.tokens().list();
      farmCtl.output().print(ListTokensResponse.newBuilder().addAllTokens(tokens).build(),
          table(tokens));
    }
  }

  @Command(name = "revoke",
      description = {"Revoke a token by id, or the live token of a name. Calls with it are",
          "refused within 5 seconds on every controller."},
      footer = {"%nExample:", "  farmctl token revoke ci"})
  void revoke(@Parameters(paramLabel = "<id|name>", description = "The token's id or name.")
      String idOrName) {
    FarmCtl farmCtl = FarmCtl.of(spec);
    try (FarmClient client = farmCtl.openClient()) {
      ApiToken revoked = client.tokens().revoke(idOrName);
      farmCtl.output().print(revoked, table(List.of(revoked)));
    }
  }

  private static Table table(List<ApiToken> tokens) {
    Table table = new Table("ID", "NAME", "ROLE", "PROJECT", "CREATED", "REVOKED");
    for (ApiToken t : tokens) {
      table.row(t.getId(), t.getName(), t.getRole(),
          t.getProject().isEmpty() ? "(farm-wide)" : t.getProject(), Cells.time(t.getCreatedAt()),
          t.hasRevokedAt() ? Cells.time(t.getRevokedAt()) : Cells.NONE);
    }
    return table;
  }
}
