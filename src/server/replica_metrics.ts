/**
 * The Prometheus metrics of a replica process: Raft progress read from the core at scrape
 * time, counters and latency histograms updated by the storage and the ready loop, and
 * network bytes per peer read from the transport and server statistics. A group replica adds
 * its configuration, shard states and migration counters; a shard master replica its latest
 * configuration number.
 */

import type { RaftNode } from "../raft/node.ts";
import type { NetServer } from "../net/server.ts";
import type { TcpTransport } from "../net/tcp_transport.ts";
import { type Counter, type Histogram, MetricsRegistry } from "../util/metrics.ts";
import type { GroupServer } from "../shard/group_server.ts";
import type { ShardStateKind } from "../shard/group_state.ts";
import type { ShardMasterServer } from "../shard/master_server.ts";
import type { ServiceView } from "./replica_process.ts";

/** Metrics the process updates as things happen (the rest are read at scrape time). */
export interface ReplicaMetrics {
  readonly registry: MetricsRegistry;
  readonly fsyncMs: Histogram;
  /** Whole batch writes (append and fdatasync) as the ready loop waits for them. */
  readonly storageWriteMs: Histogram;
  readonly entriesWritten: Counter;
  readonly messagesSent: Counter;
  /** Leadership changes seen by this replica. */
  noteLeader(leader: number | null): void;
  render(): string;
}

/** Registers every metric of a KV replica. */
export function createReplicaMetrics(
  parts: {
    service: () => ServiceView | null;
    node: () => RaftNode | null;
    transport: () => TcpTransport | null;
    server: () => NetServer | null;
  },
): ReplicaMetrics {
  const registry = new MetricsRegistry();
  const core = () => parts.node()?.core ?? null;
  registry.gauge("shardkv_raft_term", "Current Raft term.").collect(() => core()?.term ?? 0);
  registry.gauge("shardkv_raft_is_leader", "1 when this replica leads its group.").collect(
    () => (core()?.role === "leader" ? 1 : 0),
  );
  registry.gauge("shardkv_raft_commit_index", "Highest log index known committed.").collect(() =>
    core()?.commit ?? 0
  );
  registry.gauge("shardkv_raft_applied_index", "Highest log index applied to the state machine.")
    .collect(() => core()?.applied ?? 0);
  registry.gauge("shardkv_raft_last_index", "Last index in the log.").collect(() =>
    core()?.log.lastIndex() ?? 0
  );
  registry.gauge("shardkv_raft_snapshot_index", "Index covered by the latest snapshot.").collect(
    () => core()?.log.snapshotIndex ?? 0,
  );
  registry.gauge("shardkv_raft_log_bytes", "Bytes of log entries held after the snapshot.").collect(
    () => core()?.log.entriesBytes ?? 0,
  );
  const leaderChanges = registry.counter(
    "shardkv_raft_leader_changes_total",
    "Times this replica saw the leader change.",
  );
  registry.gauge("shardkv_kv_proposals_total", "Writes proposed to Raft by this replica as leader.")
    .collect(() => parts.service()?.counters.proposals ?? 0);
  registry.gauge("shardkv_raft_snapshots_received_total", "Snapshots installed from the leader.")
    .collect(() => parts.service()?.counters.snapshotsInstalled ?? 0);
  registry.gauge("shardkv_kv_writes_applied_total", "KV writes applied.").collect(() =>
    parts.service()?.counters.writesApplied ?? 0
  );
  registry.gauge("shardkv_kv_reads_served_total", "Linearizable reads served.").collect(() =>
    parts.service()?.counters.readsServed ?? 0
  );
  registry.gauge("shardkv_kv_snapshots_total", "Snapshots taken by the state machine.").collect(
    () => parts.service()?.counters.snapshots ?? 0,
  );
  registry.gauge("shardkv_kv_busy_total", "Requests refused because the server was busy.").collect(
    () => parts.service()?.counters.busy ?? 0,
  );
  registry.gauge("shardkv_kv_pending_writes", "Writes waiting for their entry to apply.").collect(
    () => parts.service()?.pendingProposals ?? 0,
  );
  const fsyncMs = registry.histogram(
    "shardkv_storage_fsync_ms",
    "Latency of WAL fdatasync, in milliseconds.",
  );
  const storageWriteMs = registry.histogram(
    "shardkv_storage_append_ms",
    "Latency of one ready batch's WAL append including its fdatasync, in milliseconds.",
  );
  const entriesWritten = registry.counter(
    "shardkv_storage_entries_written_total",
    "Log entries made durable (entries / fsyncs = group commit size).",
  );
  const messagesSent = registry.counter(
    "shardkv_raft_messages_sent_total",
    "Raft messages sent, by type (installSnapshot counts snapshot chunks sent).",
  );
  const bytesSent = registry.gauge("shardkv_net_peer_bytes_sent", "Bytes sent to each peer.");
  const bytesReceived = registry.gauge(
    "shardkv_net_peer_bytes_received",
    "Bytes received from each peer.",
  );
  const dropped = registry.gauge(
    "shardkv_net_peer_messages_dropped",
    "Raft messages dropped for each peer (queue full or failed write).",
  );
  const connected = registry.gauge(
    "shardkv_net_peer_connected",
    "1 when the outbound connection to the peer is up.",
  );
  let lastLeader: number | null | undefined;
  return {
    registry,
    fsyncMs,
    storageWriteMs,
    entriesWritten,
    messagesSent,
    noteLeader(leader) {
      if (lastLeader !== undefined && leader !== lastLeader && leader !== null) leaderChanges.inc();
      if (leader !== null) lastLeader = leader;
      else if (lastLeader === undefined) lastLeader = null;
    },
    render() {
      for (const link of parts.transport()?.stats() ?? []) {
        const labels = { peer: String(link.peer) };
        bytesSent.set(link.bytesSent, labels);
        dropped.set(link.messagesDropped, labels);
        connected.set(link.connected ? 1 : 0, labels);
      }
      for (const peer of parts.server()?.stats().peers ?? []) {
        bytesReceived.set(peer.bytesReceived, { peer: String(peer.peer) });
      }
      return registry.render();
    },
  };
}

/** Registers the metrics of a shard-aware group replica: where its shards are in migration. */
export function registerGroupMetrics(
  registry: MetricsRegistry,
  server: Pick<GroupServer, "state" | "migrationCounters">,
): void {
  registry.gauge("shardkv_group_config_num", "Shard configuration this replica has applied.")
    .collect(() => server.state.currentConfig().num);
  registry.gauge(
    "shardkv_group_shards",
    "Shards held by this replica, by state (serving, pulling, handingOff, waitingGc).",
  ).collectByLabel("state", () => {
    const counts = {
      serving: 0,
      pulling: 0,
      handingOff: 0,
      waitingGc: 0,
    } satisfies Record<ShardStateKind, number>;
    for (const kind of Object.values(server.state.shardStates())) counts[kind]++;
    return counts;
  });
  registry.gauge(
    "shardkv_group_pending_gc",
    "Shards of earlier configs whose previous owner has not yet confirmed deleting its copy.",
  ).collect(() => server.state.pendingGcCount());
  const migration = () => server.migrationCounters;
  registry.counter(
    "shardkv_shard_parts_installed_total",
    "Shard parts pulled by this replica as leader and installed.",
  ).collect(() => migration().partsInstalled);
  registry.counter(
    "shardkv_shard_bytes_installed_total",
    "Payload bytes of the shard parts pulled by this replica as leader and installed.",
  ).collect(() => migration().bytesInstalled);
  registry.counter(
    "shardkv_shard_pull_failures_total",
    "Shard pulls by this replica as leader that got no part (no answer, or a refusal).",
  ).collect(() => migration().pullFailures);
  registry.counter(
    "shardkv_shard_gc_confirmed_total",
    "Handed-off shards whose deletion by the previous owner this replica confirmed as leader.",
  ).collect(() => migration().gcConfirmed);
  registry.counter(
    "shardkv_config_changes_total",
    "Shard configurations proposed by this replica as leader and applied.",
  ).collect(() => migration().configChanges);
}

/** Registers the metrics of a shard master replica. */
export function registerMasterMetrics(registry: MetricsRegistry, server: ShardMasterServer): void {
  registry.gauge(
    "shardkv_master_config_num",
    "Latest shard configuration this replica has applied.",
  )
    .collect(() => server.state.latest().num);
}
