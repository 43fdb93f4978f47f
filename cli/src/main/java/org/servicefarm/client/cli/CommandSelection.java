package org.servicefarm.client.cli;

import java.lang.reflect.Field;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Which of farmctl's commands a run needs picocli to model. picocli builds the model of every
 * registered command and option by reflection before it parses anything, and for the whole tree
 * that is most of what a short call costs. A run of one command (farmctl services) registers only
 * that command; the root's help, a missing or unknown command, and completion (which prints the
 * whole tree) get every command, so their output and errors are the whole tree's.
 */
final class CommandSelection {

  /** Every top-level command, in the order the root's help lists them. */
  static final List<Class<?>> ALL = List.of(
      RequestCommand.class,
      ServicesCommand.class,
      VmsCommand.class,
      HostsCommand.class,
      VmCommand.class,
      ServiceCommand.class,
      ImageCommand.class,
      LeaseCommand.class,
      EventsCommand.class,
      HostCommand.class,
      TokenCommand.class,
      ProjectCommand.class,
      AuditCommand.class,
      PkiCommand.class,
      CompletionCommand.class);

  /** Commands whose work reads the whole command tree. */
  private static final Set<Class<?>> NEED_EVERY_COMMAND = Set.of(CompletionCommand.class);

  private CommandSelection() {}

  /** The commands to register for a run with these arguments. */
  static List<Class<?>> forArguments(String[] args) {
    return commandName(args)
        .flatMap(CommandSelection::commandNamed)
        .filter(command -> !NEED_EVERY_COMMAND.contains(command))
        .<List<Class<?>>>map(List::of)
        .orElse(ALL);
  }

  /**
   * The first argument that is neither one of the root's options nor an option's value: the
   * command picocli will run, if it names one. Stops at "--", after which nothing is an option.
   */
  static Optional<String> commandName(String[] args) {
    Set<String> takingValues = rootOptionsTakingAValue();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("--")) {
        return i + 1 < args.length ? Optional.of(args[i + 1]) : Optional.empty();
      }
      if (!arg.startsWith("-") || arg.equals("-")) {
        return Optional.of(arg);
      }
      if (takingValues.contains(arg)) {
        i++; // "--target HOST:PORT": the next argument is the value ("--target=HOST:PORT" is one)
      }
    }
    return Optional.empty();
  }

  private static Optional<Class<?>> commandNamed(String name) {
    for (Class<?> command : ALL) {
      Command annotation = command.getAnnotation(Command.class);
      if (annotation.name().equals(name) || List.of(annotation.aliases()).contains(name)) {
        return Optional.of(command);
      }
    }
    return Optional.empty();
  }

  /** Names of FarmCtl's own options that take a value (every one but the flags). */
  private static Set<String> rootOptionsTakingAValue() {
    Set<String> names = new HashSet<>();
    for (Field field : FarmCtl.class.getDeclaredFields()) {
      Option option = field.getAnnotation(Option.class);
      if (option != null && field.getType() != boolean.class) {
        names.addAll(List.of(option.names()));
      }
    }
    return names;
  }
}
