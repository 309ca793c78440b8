/**
 * Settings of one Raft core. Times are in ticks: the core never reads a clock; the driver
 * calls `tick()` every `tick_ms` of the cluster config.
 */

import type { Random } from "../../util/prng.ts";
import { assert } from "../../util/assert.ts";
import {
  APPEND_BYTES_MAX,
  APPEND_ENTRIES_MAX,
  INFLIGHT_APPENDS_MAX,
  INFLIGHT_BYTES_MAX,
  SNAPSHOT_CHUNK_BYTES_MAX,
  VOTERS_MAX,
} from "./limits.ts";
import type { NodeId } from "./types.ts";

/** Everything a core needs besides its persisted state. */
export interface RaftConfig {
  /** This node's id; must be one of `voters`. */
  readonly id: NodeId;
  /** Every voter of the group, this node included. Fixed for the group's lifetime. */
  readonly voters: readonly NodeId[];
  /** A follower that hears nothing for a random time in [electionTicks, 2·electionTicks) campaigns. */
  readonly electionTicks: number;
  /** A leader sends heartbeats every `heartbeatTicks`; must be well below electionTicks. */
  readonly heartbeatTicks: number;
  /** PreVote (thesis §9.6): a partitioned node cannot raise terms and depose a healthy leader. */
  readonly preVote: boolean;
  /** CheckQuorum (thesis §6.2): a leader that cannot reach a quorum for an election timeout steps down. */
  readonly checkQuorum: boolean;
  /** Most entries in one append message. */
  readonly maxAppendEntries: number;
  /** Most entry bytes in one append message (one entry may exceed it: it is sent alone). */
  readonly maxAppendBytes: number;
  /** Most append messages in flight to one follower while replicating. */
  readonly maxInflightAppends: number;
  /** Most entry bytes in flight to one follower while replicating. */
  readonly maxInflightBytes: number;
  /** Most bytes of proposed but uncommitted entries; past it proposals answer `busy`. */
  readonly maxUncommittedBytes: number;
  /** Most committed entry bytes handed to the application in one ready. */
  readonly maxApplyBytes: number;
  /** Size of one InstallSnapshot chunk. */
  readonly snapshotChunkBytes: number;
  /** Source of election jitter. */
  readonly random: Random;
}

/** Defaults matching cluster.example.toml (50 ms ticks: heartbeat 100 ms, election 1–2 s). */
export const RAFT_DEFAULTS = {
  electionTicks: 20,
  heartbeatTicks: 2,
  preVote: true,
  checkQuorum: true,
  maxAppendEntries: 512,
  maxAppendBytes: 1024 * 1024,
  maxInflightAppends: 64,
  maxInflightBytes: 16 * 1024 * 1024,
  maxUncommittedBytes: 64 * 1024 * 1024,
  maxApplyBytes: 16 * 1024 * 1024,
  snapshotChunkBytes: 1024 * 1024,
} as const;

/** Checks a config; a bad one is a programming error in the caller (the TOML loader validates users' input). */
export function assertRaftConfig(config: RaftConfig): void {
  const voters = new Set(config.voters);
  assert(voters.size === config.voters.length, "Raft voters must be distinct");
  assert(
    config.voters.length >= 1 && config.voters.length <= VOTERS_MAX,
    `Raft needs 1..${VOTERS_MAX} voters, got ${config.voters.length}`,
  );
  assert(voters.has(config.id), `Raft node ${config.id} is not among the voters`);
  assert(config.heartbeatTicks >= 1, "heartbeatTicks must be at least 1");
  assert(
    config.electionTicks > config.heartbeatTicks,
    `electionTicks (${config.electionTicks}) must exceed heartbeatTicks (${config.heartbeatTicks})`,
  );
  assert(
    config.maxAppendEntries >= 1 && config.maxAppendEntries <= APPEND_ENTRIES_MAX,
    "maxAppendEntries out of range",
  );
  assert(
    config.maxAppendBytes >= 1 && config.maxAppendBytes <= APPEND_BYTES_MAX,
    "maxAppendBytes out of range",
  );
  assert(
    config.maxInflightAppends >= 1 && config.maxInflightAppends <= INFLIGHT_APPENDS_MAX,
    "maxInflightAppends out of range",
  );
  assert(
    config.maxInflightBytes >= config.maxAppendBytes &&
      config.maxInflightBytes <= INFLIGHT_BYTES_MAX,
    "maxInflightBytes must be in [maxAppendBytes, INFLIGHT_BYTES_MAX]",
  );
  assert(config.maxUncommittedBytes >= 1, "maxUncommittedBytes must be positive");
  assert(config.maxApplyBytes >= 1, "maxApplyBytes must be positive");
  assert(
    config.snapshotChunkBytes >= 1 && config.snapshotChunkBytes <= SNAPSHOT_CHUNK_BYTES_MAX,
    "snapshotChunkBytes out of range",
  );
}
