package org.servicefarm.examples;

import org.servicefarm.client.FarmClient;
import org.servicefarm.client.FarmClientOptions;
import org.servicefarm.client.HeldService;
import org.servicefarm.client.ServiceNotFoundException;

/** Connects to a farm, holds a service, prints where to reach it, and releases it. */
public final class HoldServiceExample {
  public static void main(String[] args) {
    String service = args.length > 0 ? args[0] : "static-web";
    FarmClientOptions options = FarmClientOptions.builder()
        .target(System.getenv().getOrDefault("FARM_TARGET", "127.0.0.1:50051"))
        .bearerToken(System.getenv("FARM_TOKEN"))
        .build();
    try (FarmClient farm = FarmClient.connect(options);
        HeldService held = farm.hold(service)) { // renews its lease until closed
      System.out.println(service + " at " + held.access().endpoint());
      // ... use the service; closing releases the lease, and the VM may sleep when idle
    } catch (ServiceNotFoundException e) {
      System.err.println(e.getMessage());
      System.exit(3);
    }
  }

  private HoldServiceExample() {}
}
