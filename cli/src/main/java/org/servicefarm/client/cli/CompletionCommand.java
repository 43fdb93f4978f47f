package org.servicefarm.client.cli;

import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** farmctl completion: shell completion for every farmctl command and option. */
@Command(
    name = "completion",
    description = "Print a shell completion script for farmctl.",
    footer = {
      "%nExample:",
      "  source <(farmctl completion bash)",
    })
final class CompletionCommand {

  @Spec
  private CommandSpec spec;

  @Command(name = "bash",
      description = {"Print a bash completion script for farmctl (and zsh with bashcompinit).",
          "It completes the command named farmctl: put farmctl on the PATH, or alias it."},
      footer = {"%nExample:", "  farmctl completion bash > /etc/bash_completion.d/farmctl"})
  void bash() {
    // Generated from the command tree as built at run time, so it offers every subcommand,
    // also those farmctl adds under two names (vm list and vms).
    spec.commandLine().getOut().print(AutoComplete.bash("farmctl", spec.root().commandLine()));
    spec.commandLine().getOut().flush();
  }
}
