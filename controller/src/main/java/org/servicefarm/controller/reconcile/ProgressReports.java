package org.servicefarm.controller.reconcile;

import java.util.function.Consumer;
import org.servicefarm.api.v1.CommandProgress;
import org.servicefarm.controller.model.VmRecord;
import org.servicefarm.controller.operations.OperationTracker;

/** Turns an agent's progress reports on a command into what the VM's waiting requests see. */
final class ProgressReports {
  private ProgressReports() {}

  /** An install: fetching the image (bytes so far), then installing. */
  static Consumer<CommandProgress> install(OperationTracker operations, VmRecord vm) {
    return progress -> {
      if (progress.getPhase().equals("installing")) {
        operations.installing(vm.id(), vm.hostId());
      } else {
        operations.transferring(vm.id(), vm.hostId(), progress.getDoneBytes(),
            progress.getTotalBytes());
      }
    };
  }

  /** A restore stays one phase; only the bytes of its fetch move it along. */
  static Consumer<CommandProgress> restore(OperationTracker operations, VmRecord vm) {
    return progress -> {
      if (progress.getPhase().equals("transferring")) {
        operations.restoring(vm.id(), vm.hostId(), progress.getDoneBytes(),
            progress.getTotalBytes());
      }
    };
  }
}
