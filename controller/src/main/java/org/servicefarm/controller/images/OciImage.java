package org.servicefarm.controller.images;

import java.util.List;
import java.util.stream.Collectors;

/**
 * What an OCI image archive holds, as {@link OciArchive} read and verified it: its layers in the
 * order they apply (each an entry of the archive), and what its config says to run and expose.
 *
 * @param layout "oci layout" or "docker save", for messages
 * @param layers the archive's entries holding the layer tars (gzip or not), lowest first
 * @param argv the config's Entrypoint followed by its Cmd; empty when it names neither
 * @param env the config's Env ("NAME=value" each)
 * @param workingDir the config's WorkingDir, or empty
 * @param tcpPorts the config's ExposedPorts that are TCP, ascending
 */
public record OciImage(String layout, List<String> layers, List<String> argv, List<String> env,
    String workingDir, List<Integer> tcpPorts) {

  /**
   * The image's entrypoint and cmd as one shell command (the guest's init runs it with
   * {@code sh -c}), each word quoted so it reaches the program exactly as the config wrote it,
   * after changing to the working directory and with the config's environment. Empty when the
   * config names nothing to run.
   */
  public String shellCommand() {
    if (argv.isEmpty()) {
      return "";
    }
    StringBuilder command = new StringBuilder();
    if (!workingDir.isEmpty()) {
      command.append("cd ").append(quoted(workingDir)).append(" && ");
    }
    if (!env.isEmpty()) {
      command.append("env ").append(env.stream().map(OciImage::quoted)
          .collect(Collectors.joining(" "))).append(' ');
    }
    command.append(argv.stream().map(OciImage::quoted).collect(Collectors.joining(" ")));
    return command.toString();
  }

  /** The word as the shell reads it back: bare when it holds only safe characters. */
  static String quoted(String word) {
    if (!word.isEmpty() && word.matches("[A-Za-z0-9_./:=,+@%-]+")) {
      return word;
    }
    return "'" + word.replace("'", "'\\''") + "'";
  }
}
