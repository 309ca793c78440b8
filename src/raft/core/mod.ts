/** The pure Raft core: create a {@link Raft}, drive it with step / tick / ready / advance. */

export { Raft, type ReadIndexResult, type TransferResult } from "./raft.ts";
export { assertRaftConfig, RAFT_DEFAULTS, type RaftConfig } from "./raft_config.ts";
export type { PeerStatus, RaftStatus, Ready } from "./ready.ts";
export * from "./messages.ts";
export * from "./types.ts";
export * as limits from "./limits.ts";
