package org.servicefarm.e2e;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.servicefarm.controller.model.HostRecord.HostStatus;
import org.servicefarm.controller.placement.HostSnapshot;
import org.servicefarm.controller.placement.Placement;
import org.servicefarm.controller.placement.PlacementRequest;
import org.servicefarm.controller.placement.PlacementScheduler;

/**
 * The JMH side of {@link SchedulerDecisionBenchmark}: one scheduling decision over a random but
 * fixed cluster, and beside it the floor, one pass over the same hosts summing free memory, which
 * any scheduler that looks at every host must at least do.
 */
@State(Scope.Thread)
public class SchedulerDecisionJmh {
  private static final int IMAGES = 20;

  @Param({"1000", "10000", "100000"})
  public int hosts;

  private final PlacementScheduler scheduler = new PlacementScheduler(4.0);
  private List<HostSnapshot> cluster;
  private PlacementRequest[] requests;
  private int next;

  @Setup
  public void buildCluster() {
    Random random = new Random(20_261_125L);
    List<String> images = new ArrayList<>();
    for (int i = 0; i < IMAGES; i++) {
      images.add(String.format("sha256:%016x%016x%016x%016x",
          random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong()));
    }
    cluster = new ArrayList<>(hosts);
    for (int i = 0; i < hosts; i++) {
      // A farm in service: a few hosts down, draining or cut off, the rest partly filled, each
      // caching a few of the images so the cache bonus decides among some of them.
      int roll = random.nextInt(100);
      HostStatus status = roll < 2 ? HostStatus.DOWN : roll < 3 ? HostStatus.DRAINING : HostStatus.UP;
      int vcpus = 16 << random.nextInt(4);
      long memoryMb = 65_536L << random.nextInt(4);
      Set<String> cached = switch (random.nextInt(4)) {
        case 0 -> Set.of();
        case 1 -> Set.of(images.get(random.nextInt(IMAGES)));
        default -> Set.of(images.get(i % IMAGES), images.get((i + 7) % IMAGES));
      };
      cluster.add(new HostSnapshot(String.format("host-%06d", random.nextInt(1_000_000)), status,
          random.nextInt(50) != 0, vcpus, memoryMb, random.nextInt(vcpus * 4),
          (long) (memoryMb * random.nextDouble()), random.nextDouble() * 100, cached));
    }
    // Requests of several sizes, with and without a built image, taken in turn.
    requests = new PlacementRequest[] {
      new PlacementRequest(1, 512, images.get(3)),
      new PlacementRequest(2, 2_048, null),
      new PlacementRequest(4, 8_192, images.get(11)),
      new PlacementRequest(8, 32_768, images.get(17)),
    };
  }

  @Benchmark
  public Placement decide() {
    next = (next + 1) % requests.length;
    return scheduler.place(requests[next], cluster);
  }

  @Benchmark
  public long floor() {
    long free = 0;
    for (HostSnapshot host : cluster) {
      free += host.capacityMemoryMb() - host.allocatedMemoryMb();
    }
    return free;
  }
}
