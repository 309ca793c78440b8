/** The rows of the kv section's tables, built from what the phases and the replicas reported. */

import type { PhaseResult } from "./kv_load.ts";
import { cpuPercent, type CpuSample, MACHINE } from "./process_cpu.ts";
import { METRIC } from "./replica_scrape.ts";
import { percentile } from "./table.ts";
import type { BenchRow } from "./table.ts";

/** What a phase samples at the edges of its measured window. */
export interface KvProbe {
  readonly cpu: CpuSample;
  /** The leader's metrics (empty when it did not answer). */
  readonly leader: ReadonlyMap<string, number>;
}

/** Which replica led during the phases. */
export interface Roles {
  readonly leader: string;
  readonly followers: readonly string[];
}

/** One row of the phase table. */
export function phaseRow(
  phase: string,
  clients: number,
  result: PhaseResult<KvProbe>,
  roles: Roles,
  reference: string,
): BenchRow {
  const { before, after } = result;
  const cpu = (name: string) => cpuCell(cpuPercent(before.cpu, after.cpu, name));
  const delta = (name: string) =>
    (after.leader.get(name) ?? NaN) - (before.leader.get(name) ?? NaN);
  const fsyncs = delta(METRIC.fsyncCount);
  const writes = delta(METRIC.writesApplied);
  return {
    phase,
    clients,
    "ops/s": Math.round(result.completed / result.seconds),
    "p50 ms": percentile(result.latenciesMs, 50),
    "p90 ms": percentile(result.latenciesMs, 90),
    "p99 ms": percentile(result.latenciesMs, 99),
    errors: result.errors,
    "leader writes/fsync": writes > 0 && fsyncs > 0 ? writes / fsyncs : "-",
    "leader fsyncs/s": fsyncs >= 0 ? Math.round(fsyncs / result.seconds) : "n/a",
    "leader CPU %": cpu(roles.leader),
    "followers CPU %": roles.followers.map(cpu).join(" / "),
    "loadgen CPU %": cpu("loadgen"),
    "machine CPU %": cpu(MACHINE),
    "etcd 3.4 ref": reference,
  };
}

/** The row of the sequential appends. */
export function appendRow(latenciesMs: readonly number[]): BenchRow {
  const totalMs = latenciesMs.reduce((sum, ms) => sum + ms, 0);
  return {
    appends: latenciesMs.length,
    "total s": totalMs / 1000,
    "ms/op": totalMs / latenciesMs.length,
    "p50 ms": percentile(latenciesMs, 50),
    "p99 ms": percentile(latenciesMs, 99),
  };
}

/**
 * One row per replica: its writes, reads and fsyncs over the whole run, and its CPU seconds
 * (`cpu`: by replica id, and "loadgen" for this process).
 */
export function replicaRows(
  metrics: ReadonlyMap<string, ReadonlyMap<string, number>>,
  cpu: ReadonlyMap<string, number | null>,
  leader: string,
): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const [id, samples] of metrics) {
    const value = (name: string) => samples.get(name) ?? NaN;
    const fsyncs = value(METRIC.fsyncCount);
    const fsyncMs = value(METRIC.fsyncSumMs);
    const writes = value(METRIC.writesApplied);
    const seconds = cpu.get(id) ?? null;
    rows.push({
      replica: id,
      role: id === leader ? "leader" : "follower",
      "writes applied": writes,
      "reads served": value(METRIC.readsServed),
      "busy refusals": value(METRIC.busy),
      "fsync count": fsyncs,
      "fsync sum ms": Math.round(fsyncMs),
      "fsync mean ms": fsyncMs / fsyncs,
      "writes/fsync": writes / fsyncs,
      "CPU s": seconds === null ? "n/a" : seconds,
    });
  }
  const loadgen = cpu.get("loadgen") ?? null;
  rows.push({ replica: "loadgen (this process)", role: "clients", "CPU s": loadgen ?? "n/a" });
  return rows;
}

function cpuCell(percent: number | null): number | string {
  return percent === null ? "n/a" : Math.round(percent);
}
