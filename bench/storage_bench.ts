/** The storage section of `deno task bench`: group-committed appends with fsync on. */

import { benchStorage } from "../src/raft/wal/bench.ts";
import type { BenchRow } from "./table.ts";

/** Appends per second and fdatasync latency for 100 B and 4 KiB entries, 1 and 64 per fsync. */
export async function storageSection(scale: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const entryBytes of [100, 4096]) {
    for (const entriesPerBatch of [1, 64]) {
      const dir = await Deno.makeTempDir({ prefix: "shardkv-bench-storage-" });
      try {
        const batches = Math.max(10, Math.round((entriesPerBatch === 1 ? 2000 : 400) * scale));
        const result = await benchStorage({ dir, entryBytes, batches, entriesPerBatch });
        rows.push({
          "entry bytes": entryBytes,
          "entries/fsync": entriesPerBatch,
          "appends/s": Math.round(result.appendsPerSecond),
          "fsync p50 ms": result.fsyncP50Ms,
          "fsync p99 ms": result.fsyncP99Ms,
          "MB written": Math.round(result.bytesWritten / 1e5) / 10,
        });
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  }
  return rows;
}
