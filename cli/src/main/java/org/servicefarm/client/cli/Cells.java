package org.servicefarm.client.cli;

import com.google.protobuf.Timestamp;
import java.time.Instant;
import java.util.List;
import org.servicefarm.api.v1.HostStatus;
import org.servicefarm.api.v1.VmState;

/** How API values read in a table cell: short enum names, ISO times, "-" for nothing. */
final class Cells {

  static final String NONE = "-";

  private Cells() {}

  /** "ACTIVE" for VM_STATE_ACTIVE; the prefix only repeats the column header. */
  static String state(VmState state) {
    return state == VmState.VM_STATE_UNSPECIFIED ? NONE : state.name().replace("VM_STATE_", "");
  }

  static String status(HostStatus status) {
    return status == HostStatus.HOST_STATUS_UNSPECIFIED
        ? NONE : status.name().replace("HOST_STATUS_", "");
  }

  /** UTC to the second; an unset timestamp (seconds and nanos 0) is "-". */
  static String time(Timestamp timestamp) {
    if (timestamp.getSeconds() == 0 && timestamp.getNanos() == 0) {
      return NONE;
    }
    return Instant.ofEpochSecond(timestamp.getSeconds()).toString();
  }

  /** "300s" for a setting in seconds; 0 (never) is "-". */
  static String seconds(int seconds) {
    return seconds == 0 ? NONE : seconds + "s";
  }

  static String text(String value) {
    return value == null || value.isEmpty() ? NONE : value;
  }

  static String list(List<String> values) {
    return values.isEmpty() ? NONE : String.join(",", values);
  }

  static String yesNo(boolean value) {
    return value ? "yes" : "no";
  }
}
