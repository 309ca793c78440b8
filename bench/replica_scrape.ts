/** Reading a replica's Prometheus `GET /metrics` from the bench (no labels, numbers only). */

const SCRAPE_TIMEOUT_MS = 2_000;

/**
 * The unlabelled samples of `<adminBaseUrl>/metrics` by metric name (`..._count`, `..._sum`
 * included); an empty map when the replica does not answer in time.
 */
export async function scrapeMetrics(adminBaseUrl: string): Promise<Map<string, number>> {
  const samples = new Map<string, number>();
  let text: string;
  try {
    const response = await fetch(`${adminBaseUrl}/metrics`, {
      signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS),
    });
    text = await response.text();
    if (!response.ok) return samples;
  } catch {
    return samples;
  }
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*) (\S+)$/.exec(line);
    if (match === null) continue; // labelled samples are not needed here
    const value = Number(match[2]);
    if (Number.isFinite(value)) samples.set(match[1]!, value);
  }
  return samples;
}

/** The metrics the kv section reads. */
export const METRIC = {
  writesApplied: "shardkv_kv_writes_applied_total",
  readsServed: "shardkv_kv_reads_served_total",
  busy: "shardkv_kv_busy_total",
  fsyncCount: "shardkv_storage_fsync_ms_count",
  fsyncSumMs: "shardkv_storage_fsync_ms_sum",
  leaderChanges: "shardkv_raft_leader_changes_total",
} as const;
