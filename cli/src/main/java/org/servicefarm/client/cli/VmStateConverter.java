package org.servicefarm.client.cli;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;
import org.servicefarm.api.v1.VmState;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Reads --state as ACTIVE or VM_STATE_ACTIVE, in any case; anything else lists what is valid. */
final class VmStateConverter implements ITypeConverter<VmState> {

  private static final String PREFIX = "VM_STATE_";

  @Override
  public VmState convert(String value) {
    String name = value.trim().toUpperCase(Locale.ROOT);
    String full = name.startsWith(PREFIX) ? name : PREFIX + name;
    return Arrays.stream(VmState.values())
        .filter(VmStateConverter::isChoosable)
        .filter(state -> state.name().equals(full))
        .findFirst()
        .orElseThrow(() -> new TypeConversionException(
            "'" + value + "' is not a VM state; valid: " + validNames()));
  }

  static String validNames() {
    return Arrays.stream(VmState.values())
        .filter(VmStateConverter::isChoosable)
        .map(Cells::state)
        .collect(Collectors.joining(", "));
  }

  /** UNSPECIFIED means "no filter" and UNRECOGNIZED is protobuf's, so neither is a choice. */
  private static boolean isChoosable(VmState state) {
    return state != VmState.VM_STATE_UNSPECIFIED && state != VmState.UNRECOGNIZED;
  }
}
