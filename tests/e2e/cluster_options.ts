/** The options of E2ECluster.start, their checks, and the error a failed start throws. */

import type { ProgramInvocation } from "../../src/supervisor/mod.ts";
import type { ConfigOverrides } from "./cluster_toml.ts";
import { ProcessExitedError } from "./e2e_process.ts";

/** What {@link E2ECluster.start} starts. */
export interface E2EClusterOptions {
  /** Replicas per group: `[3]` is one group (gid 1: g1-1, g1-2, g1-3); `[3, 3]` two. */
  readonly groups: readonly number[];
  /** Shard master replicas (sm-1, sm-2, …); 0 or absent: none (then one group only). */
  readonly shardmaster?: number;
  readonly configOverrides?: ConfigOverrides;
  /** Added to every process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * `"admin"` (default): start() returns once every admin endpoint answers GET /status,
   * and fails if a process exits first. `"spawned"`: returns as soon as all are spawned.
   */
  readonly ready?: "admin" | "spawned";
  /** Default 30 s. */
  readonly readyTimeoutMs?: number;
  /** What to run instead of `deno run -A main.ts` (the harness's own tests use a fake). */
  readonly program?: ProgramInvocation;
}

/** E2ECluster.start failed; every process it started is gone and its temp dir removed. */
export class ClusterStartError extends Error {
  override readonly name = "ClusterStartError";
  readonly code = "clusterStart";
  /** The process whose exit failed the start, if that is what happened. */
  readonly exited: ProcessExitedError | undefined;
  /** The removed temp dir and every pid started, so tests can check the cleanup. */
  readonly tempDir: string;
  readonly pids: readonly number[];

  constructor(cause: unknown, tempDir: string, pids: readonly number[]) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`Cannot start the e2e cluster: ${reason}`, { cause });
    this.exited = cause instanceof ProcessExitedError ? cause : undefined;
    this.tempDir = tempDir;
    this.pids = pids;
  }
}

/** Refuses options that cannot make a valid cluster, before anything is started. */
export function checkOptions(options: E2EClusterOptions): void {
  const { groups, shardmaster = 0 } = options;
  if (groups.length === 0 || groups.some((size) => !Number.isSafeInteger(size) || size < 1)) {
    throw new RangeError(`groups must list at least one group size >= 1, got [${groups}]`);
  }
  if (!Number.isSafeInteger(shardmaster) || shardmaster < 0) {
    throw new RangeError(`shardmaster must be a count >= 0, got ${shardmaster}`);
  }
  if (groups.length > 1 && shardmaster === 0) {
    throw new RangeError("several groups need a shard master: pass shardmaster: 3 (or 1)");
  }
}
