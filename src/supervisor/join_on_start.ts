/**
 * What `local` does once a sharded cluster's processes are started: join every group whose
 * config says `join_on_start = true` (the default) and that the shard master does not have
 * yet, retrying until the shard master answers, so that a newcomer's cluster serves keys
 * without a manual `clerk join`. Groups with `join_on_start = false` are left for the user
 * to join later (to watch shards move).
 */

import type { Config } from "../config/mod.ts";
import { joinGroups } from "../shard/join_groups.ts";
import { ShardMasterClerk } from "../shard/master_clerk.ts";

/** Joins the groups to join on start; resolves when done or when `signal` aborts. */
export async function joinGroupsOnStart(
  config: Config,
  signal: AbortSignal,
  say: (line: string) => void,
): Promise<void> {
  if (config.shardmaster === undefined) return;
  const wanted = config.groups.filter((group) => group.joinOnStart).map((group) => group.gid);
  if (wanted.length === 0) return;
  const clerk = ShardMasterClerk.connect({
    servers: config.shardmaster.replicas.map((replica) => replica.raft),
    clusterName: config.cluster.name,
    secret: config.cluster.secret,
  });
  try {
    while (!signal.aborted) {
      try {
        const latest = await clerk.query(-1, { timeoutMs: 2_000, signal });
        const missing = wanted.filter((gid) => !latest.groups.has(gid));
        if (missing.length === 0) return;
        const groups = joinGroups(config, { gids: missing });
        if (typeof groups === "string") throw new Error(groups);
        const num = await clerk.join(groups, { timeoutMs: 5_000, signal });
        say(
          `joined group${missing.length === 1 ? "" : "s"} ${
            missing.join(", ")
          } to the shard master (config ${num})`,
        );
        return;
      } catch (error) {
        if (signal.aborted) return;
        if (!(error instanceof Error && /deadline|timeout/i.test(error.message + error.name))) {
          throw error;
        }
        // The shard master is still electing a leader: try again shortly.
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  } finally {
    await clerk.close();
  }
}
