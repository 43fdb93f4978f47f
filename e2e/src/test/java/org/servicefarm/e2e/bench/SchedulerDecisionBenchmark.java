package org.servicefarm.e2e.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.util.Statistics;
import org.servicefarm.e2e.support.BenchmarkTable;

/**
 * Benchmark 3, the scheduling decision: the pure scheduler at 1,000, 10,000 and 100,000 hosts
 * under JMH, each size beside the floor (one pass summing free memory over the same hosts) measured
 * in the same run. Goal: p99 under 100 µs at 10,000 hosts and under 1 ms at 100,000. Not a test:
 * it prints figures (./farm bench Scheduler runs it).
 */
class SchedulerDecisionBenchmark {
  // Short, so the whole run stays near two minutes: 6 trials of (3 + 5) x 2 s plus a fork each.
  private static final int WARMUP_ITERATIONS = 3;
  private static final int MEASURED_ITERATIONS = 5;
  private static final TimeValue ITERATION = TimeValue.seconds(2);

  @Test
  void schedulingDecision() throws Exception {
    Options options = new OptionsBuilder()
        .include("^" + Pattern.quote(SchedulerDecisionJmh.class.getName()) + "\\.")
        .mode(Mode.SampleTime)
        .timeUnit(TimeUnit.MICROSECONDS)
        .warmupIterations(WARMUP_ITERATIONS)
        .warmupTime(ITERATION)
        .measurementIterations(MEASURED_ITERATIONS)
        .measurementTime(ITERATION)
        .forks(1)
        .jvmArgs("-Xms1g", "-Xmx1g")
        .shouldFailOnError(true)
        .build();
    Collection<RunResult> results = new Runner(options).run();

    // Benchmark method name -> host count -> sampled times in µs.
    Map<String, Map<Integer, Statistics>> byMethod = new TreeMap<>();
    for (RunResult result : results) {
      String method = result.getParams().getBenchmark();
      method = method.substring(method.lastIndexOf('.') + 1);
      int hosts = Integer.parseInt(result.getParams().getParam("hosts"));
      byMethod.computeIfAbsent(method, m -> new TreeMap<>())
          .put(hosts, result.getPrimaryResult().getStatistics());
    }
    assertEquals(3, byMethod.get("decide").size(), "decisions at every cluster size");
    assertEquals(3, byMethod.get("floor").size(), "floors at every cluster size");

    BenchmarkTable table = new BenchmarkTable("Scheduling decision",
        "hosts", "decisions/s", "p50 µs", "p99 µs", "floor µs", "ratio");
    byMethod.get("decide").forEach((hosts, decide) -> {
      Statistics floor = byMethod.get("floor").get(hosts);
      table.row(String.format("%,d", hosts),
          String.format("%,.0f", 1e6 / decide.getMean()),
          micros(decide.getPercentile(50)),
          micros(decide.getPercentile(99)),
          micros(floor.getPercentile(50)),
          String.format("%.1f", decide.getPercentile(50) / floor.getPercentile(50)));
    });
    table.note("JMH sample time, one thread, one fork: " + WARMUP_ITERATIONS + " warmup and "
        + MEASURED_ITERATIONS + " measured iterations of " + ITERATION + " at each size. Decisions/s is one thread's rate"
        + " (1 / mean time). Floor: one pass over the same hosts summing free memory, the least an"
        + " exact scheduler must do; ratio = decision p50 / floor p50. Goal: p99 under 100 µs at"
        + " 10,000 hosts, under 1 ms at 100,000.");
    table.publish("scheduler.md");
  }

  private static String micros(double us) {
    return us < 10 ? String.format("%.2f", us) : String.format("%,.1f", us);
  }
}
