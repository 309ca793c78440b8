/**
 * A micro-benchmark of the file storage (for `deno task bench`, never a test): appends
 * `batches` batches of `entriesPerBatch` entries of `entryBytes` each, one write and one
 * fdatasync per batch (group commit), and reports throughput, fsync latency percentiles and
 * bytes written. Run directly: `deno run -A src/raft/wal/bench.ts [dir]`.
 */

import { asIndex, asNodeId, asTerm, type Entry } from "../core/types.ts";
import { FileStorage } from "./file_storage.ts";

/** What to measure. `dir` must be empty or absent; it is left in place. */
export interface BenchOptions {
  readonly dir: string;
  readonly entryBytes: number;
  readonly batches: number;
  readonly entriesPerBatch: number;
  readonly segmentBytes?: number;
}

/** The figures of one run. */
export interface BenchResult {
  readonly appendsPerSecond: number;
  readonly fsyncP50Ms: number;
  readonly fsyncP99Ms: number;
  readonly bytesWritten: number;
}

/** Runs one benchmark with fsync on (the production setting). */
export async function benchStorage(options: BenchOptions): Promise<BenchResult> {
  const syncLatencies: number[] = [];
  let bytesWritten = 0;
  const storage = await FileStorage.open({
    dir: options.dir,
    segmentBytes: options.segmentBytes ?? 64 * 1024 * 1024,
    fsync: true,
    onSync: (latencyMs, bytes) => {
      syncLatencies.push(latencyMs);
      bytesWritten += bytes;
    },
  });
  const data = new Uint8Array(options.entryBytes).map((_, k) => k & 0xff);
  let index = 0;
  const started = performance.now();
  try {
    for (let round = 0; round < options.batches; round++) {
      const entries: Entry[] = [];
      for (let k = 0; k < options.entriesPerBatch; k++) {
        entries.push({ type: "command", term: asTerm(1), index: asIndex(++index), data });
      }
      const hardState = { term: asTerm(1), votedFor: asNodeId(1), commit: asIndex(index) };
      await new Promise<void>((resolve, reject) =>
        storage.write(
          { entries, hardState, received: null, compaction: null },
          (error) => (error === null ? resolve() : reject(error)),
        )
      );
    }
  } finally {
    await storage.close();
  }
  const seconds = (performance.now() - started) / 1000;
  syncLatencies.sort((a, b) => a - b);
  return {
    appendsPerSecond: index / seconds,
    fsyncP50Ms: percentile(syncLatencies, 0.5),
    fsyncP99Ms: percentile(syncLatencies, 0.99),
    bytesWritten,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

if (import.meta.main) {
  const root = Deno.args[0] ?? await Deno.makeTempDir({ prefix: "shardkv-bench-" });
  const runs = [
    { entryBytes: 100, batches: 2000, entriesPerBatch: 1 },
    { entryBytes: 100, batches: 2000, entriesPerBatch: 64 },
    { entryBytes: 4096, batches: 2000, entriesPerBatch: 1 },
    { entryBytes: 4096, batches: 500, entriesPerBatch: 64 },
  ];
  const rows = [];
  try {
    for (const [k, run] of runs.entries()) {
      const result = await benchStorage({ dir: `${root}/run-${k}`, ...run });
      rows.push({
        ...run,
        appendsPerSecond: Math.round(result.appendsPerSecond),
        fsyncP50Ms: Number(result.fsyncP50Ms.toFixed(3)),
        fsyncP99Ms: Number(result.fsyncP99Ms.toFixed(3)),
        bytesWritten: result.bytesWritten,
        bytesPerEntry: Math.round(result.bytesWritten / (run.batches * run.entriesPerBatch)),
      });
    }
  } finally {
    if (Deno.args[0] === undefined) await Deno.remove(root, { recursive: true });
  }
  console.table(rows);
}
