/** Tests of the metrics registry: the Prometheus text format of each metric kind. */

import assert from "node:assert/strict";
import { MetricsRegistry } from "./metrics.ts";

Deno.test("metrics: counters, gauges and histograms render in the Prometheus text format", () => {
  const registry = new MetricsRegistry();
  const sent = registry.counter("shardkv_bytes_sent_total", "Bytes sent to peers.");
  sent.inc(10, { peer: "2" });
  sent.inc(5, { peer: "2" });
  sent.inc(1, { peer: "3" });
  registry.gauge("shardkv_raft_term", "Current term.").collect(() => 7);
  const latency = registry.histogram("shardkv_fsync_ms", "fsync latency.", [1, 10]);
  latency.observe(0.5);
  latency.observe(5);
  latency.observe(50);
  const text = registry.render();
  assert.match(
    text,
    /# TYPE shardkv_bytes_sent_total counter\nshardkv_bytes_sent_total\{peer="2"\} 15\nshardkv_bytes_sent_total\{peer="3"\} 1\n/,
  );
  assert.match(text, /shardkv_raft_term 7\n/);
  assert.match(
    text,
    /shardkv_fsync_ms_bucket\{le="1"\} 1\nshardkv_fsync_ms_bucket\{le="10"\} 2\nshardkv_fsync_ms_bucket\{le="\+Inf"\} 3\nshardkv_fsync_ms_sum 55.5\nshardkv_fsync_ms_count 3\n/,
  );
});

Deno.test("metrics: a name registered twice or a negative counter step is a bug", () => {
  const registry = new MetricsRegistry();
  registry.counter("a_total", "A.");
  assert.throws(() => registry.counter("a_total", "A."), /registered twice/);
  assert.throws(() => registry.counter("bad name", "B."), /Invalid metric name/);
  assert.throws(() => registry.counter("b_total", "B.").inc(-1), /cannot decrease/);
});

Deno.test("metrics: label values are escaped", () => {
  const registry = new MetricsRegistry();
  registry.counter("c_total", "C.").inc(1, { path: 'a"b\\c' });
  assert.match(registry.render(), /c_total\{path="a\\"b\\\\c"\} 1/);
});

Deno.test("metrics: a collected counter and a gauge collected by label are read at scrape time", () => {
  const registry = new MetricsRegistry();
  let installed = 0;
  const counts: Record<string, number> = { serving: 2, pulling: 0 };
  registry.counter("parts_installed_total", "Parts.").collect(() => installed);
  registry.gauge("shards", "Shards by state.").collectByLabel("state", () => counts);
  installed = 3;
  counts.pulling = 1;
  const text = registry.render();
  assert.match(text, /# TYPE parts_installed_total counter\nparts_installed_total 3\n/);
  assert.match(
    text,
    /# TYPE shards gauge\nshards\{state="serving"\} 2\nshards\{state="pulling"\} 1\n/,
  );
  const kept = registry.counter("kept_total", "Kept.");
  kept.inc();
  assert.throws(() => kept.collect(() => 1), /both kept and collected/);
  assert.throws(
    () => registry.counter("read_total", "Read.").collect(() => 1).inc(),
    /collected, not incremented/,
  );
});
