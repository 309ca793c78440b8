/**
 * A running KV replica process (`main.ts node`): file storage recovered from the data
 * directory, the TCP transport to the group's peers, the listener for peers and clients,
 * the KV server on a tick timer, and the admin endpoint. `stop()` shuts down in order:
 * stop accepting, stop ticking, wait for the outstanding fsync, close everything.
 */

import type { Config, GroupConfig, ReplicaConfig } from "../config/mod.ts";
import { formatAddress, replicaDataDir } from "../config/mod.ts";
import { KvServer } from "../kv/kv_server.ts";
import { parseRequest } from "../kv/protocol.ts";
import { type AdminServer, createAdminApp, serveAdmin } from "../net/admin_app.ts";
import { NetServer } from "../net/server.ts";
import { TcpTransport } from "../net/tcp_transport.ts";
import { asNodeId, type NodeId } from "../raft/core/types.ts";
import { RAFT_DEFAULTS, type RaftConfig } from "../raft/core/raft_config.ts";
import { FileStorage } from "../raft/wal/file_storage.ts";
import { assert } from "../util/assert.ts";
import type { Logger } from "../util/logger.ts";
import { Prng } from "../util/prng.ts";
import { CountingTransport, TimedStorage } from "./instrumented.ts";
import { createReplicaMetrics } from "./replica_metrics.ts";

/** What `startKvReplica` needs. */
export interface KvReplicaOptions {
  readonly config: Config;
  readonly replicaId: string;
  readonly logger: Logger;
  /** Called when the replica must stop because of a fatal error (storage failure). */
  readonly onFatal: (error: Error) => void;
}

/** A running replica. */
export interface KvReplica {
  readonly kv: KvServer;
  readonly raftPort: number;
  readonly adminPort: number;
  stop(): Promise<void>;
}

/** The Raft settings of the config, for node `id` of a group with `voters`. */
export function raftConfigFor(
  config: Config,
  id: NodeId,
  voters: readonly NodeId[],
  seed: number,
): RaftConfig {
  const raft = config.raft;
  return {
    ...RAFT_DEFAULTS,
    id,
    voters,
    electionTicks: raft.electionTicks,
    heartbeatTicks: raft.heartbeatTicks,
    preVote: raft.preVote,
    checkQuorum: raft.checkQuorum,
    maxAppendEntries: raft.maxAppendEntries,
    maxAppendBytes: raft.maxAppendBytes,
    maxInflightAppends: raft.maxInflightAppends,
    maxInflightBytes: raft.maxInflightBytes,
    maxUncommittedBytes: raft.maxUncommittedBytes,
    snapshotChunkBytes: raft.snapshotChunkBytes,
    random: new Prng(seed),
  };
}

/** Starts the replica `replicaId` of a group; throws a clear error when something is wrong. */
export async function startKvReplica(options: KvReplicaOptions): Promise<KvReplica> {
  const { config, replicaId } = options;
  const group = config.groups.find((candidate) =>
    candidate.replicas.some((replica) => replica.id === replicaId)
  );
  assert(
    group !== undefined,
    () => `Replica ${replicaId} is not in any group (the CLI checks this first)`,
  );
  const position = group.replicas.findIndex((replica) => replica.id === replicaId);
  const self = group.replicas[position]!;
  const selfId = asNodeId(position + 1);
  const voters = group.replicas.map((_, k) => asNodeId(k + 1));
  const logger = options.logger.child({ replica: replicaId, gid: group.gid, node: selfId });
  const metrics = createReplicaMetrics({
    kv: () => kv,
    node: () => kv?.node ?? null,
    transport: () => transport,
    server: () => server,
  });

  const dataDir = replicaDataDir(config, replicaId);
  const storage = await FileStorage.open({
    dir: dataDir,
    segmentBytes: config.storage.segmentBytes,
    fsync: config.storage.fsync,
    logger,
    onSync: (latencyMs) => metrics.fsyncMs.observe(latencyMs),
  });
  let transport: TcpTransport | null = null;
  let server: NetServer | null = null;
  let kv: KvServer | null = null;
  let admin: AdminServer | null = null;
  let ticker: ReturnType<typeof setInterval> | null = null;
  let stopping = false;
  /** Wall-clock time of the last message from each peer, for /status. */
  const lastContact = new Map<number, number>();
  try {
    transport = new TcpTransport({
      selfId,
      groupId: group.gid,
      clusterName: config.cluster.name,
      secret: config.cluster.secret,
      peers: peerAddresses(group, selfId),
      logger,
    });
    const seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
    const activeKv = new KvServer({
      raft: {
        config: raftConfigFor(config, selfId, voters, seed),
        storage: new TimedStorage(storage, metrics.storageWriteMs, metrics.entriesWritten),
        transport: new CountingTransport(transport, metrics.messagesSent),
        onFatal: (error) => {
          logger.error("storage failed; stopping", { error: error.message });
          options.onFatal(error);
        },
      },
      shardCount: config.cluster.shards,
      snapshotThresholdBytes: config.raft.snapshotThresholdBytes,
      now: () => Date.now(),
    });
    kv = activeKv;
    server = await NetServer.listen({
      host: self.raft.host,
      port: self.raft.port,
      clusterName: config.cluster.name,
      secret: config.cluster.secret,
      groupId: group.gid,
      selfId,
      allowedPeers: new Set(voters.filter((voter) => voter !== selfId)),
      onPeerMessages: (messages) => {
        const now = Date.now();
        for (const message of messages) lastContact.set(message.from, now);
        activeKv.node.receiveAll(messages);
      },
      onClientRequest: async (body) => {
        const parsed = parseRequest(body);
        if (!parsed.ok) {
          return { ok: false, error: { code: "badRequest", message: parsed.message } };
        }
        return await activeKv.handle(parsed.request);
      },
      logger,
    });
    let lastRole = activeKv.node.core.role;
    ticker = setInterval(() => {
      activeKv.tick();
      const core = activeKv.node.core;
      metrics.noteLeader(core.leader);
      if (core.role !== lastRole) {
        logger.info("role changed", {
          from: lastRole,
          to: core.role,
          term: core.term,
          leader: core.leader,
        });
        lastRole = core.role;
      }
    }, config.raft.tickMs);
    const app = createAdminApp({
      status: () => replicaStatus(replicaId, group.gid, activeKv, storage, lastContact),
      metrics: () => metrics.render(),
      healthy: () => !stopping && !activeKv.node.stopped,
      adminToken: config.cluster.adminToken,
      extend: (hono, requireToken) => {
        hono.post(
          "/leadership/transfer",
          requireToken(async (c) => {
            const body = await c.req.json().catch(() => ({})) as { to?: unknown };
            const target = group.replicas.findIndex((replica) => replica.id === body.to);
            if (target < 0) {
              return c.json({
                error: "badRequest",
                message: `"to" must name a replica of group ${group.gid}`,
              }, 400);
            }
            const result = activeKv.node.transferLeadership(asNodeId(target + 1));
            return result.ok
              ? c.json({ ok: true })
              : c.json({ error: result.error.code, detail: result.error }, 409);
          }),
        );
      },
    });
    admin = await serveAdmin(app, self.admin.host, self.admin.port);
    logger.info("replica started", {
      raft: formatAddress(self.raft),
      admin: `http://${formatAddress({ host: self.admin.host, port: admin.port })}`,
      dataDir,
      lastIndex: activeKv.node.core.log.lastIndex(),
      term: activeKv.node.core.term,
    });
  } catch (error) {
    if (ticker !== null) clearInterval(ticker);
    await server?.close();
    await transport?.close();
    kv?.stop();
    await admin?.shutdown();
    await storage.close();
    throw error;
  }
  assert(
    kv !== null && server !== null && transport !== null && admin !== null && ticker !== null,
    "replica started",
  );
  const started = { kv, server, transport, admin, ticker };
  return {
    kv: started.kv,
    raftPort: started.server.port,
    adminPort: started.admin.port,
    async stop() {
      if (stopping) return;
      stopping = true;
      logger.info("stopping");
      await started.server.close();
      clearInterval(started.ticker);
      started.kv.stop();
      await storage.close();
      await started.transport.close();
      await started.admin.shutdown();
      logger.info("stopped");
    },
  };
}

function peerAddresses(group: GroupConfig, selfId: NodeId): Map<NodeId, ReplicaConfig["raft"]> {
  const peers = new Map<NodeId, ReplicaConfig["raft"]>();
  group.replicas.forEach((replica, k) => {
    if (k + 1 !== selfId) peers.set(asNodeId(k + 1), replica.raft);
  });
  return peers;
}

function replicaStatus(
  replicaId: string,
  gid: number,
  kv: KvServer,
  storage: FileStorage,
  lastContact: ReadonlyMap<number, number>,
): Record<string, unknown> {
  const now = Date.now();
  const status = kv.node.status();
  return {
    id: replicaId,
    node: status.id,
    group: gid,
    role: status.role,
    term: status.term,
    leader: status.leader,
    raft: {
      commit: status.commit,
      applied: status.applied,
      lastIndex: status.lastIndex,
      lastTerm: status.lastTerm,
      persistedIndex: status.persistedIndex,
      snapshotIndex: status.snapshotIndex,
      logBytes: status.logBytes,
      raftStateBytes: storage.raftStateBytes(),
      snapshotBytes: storage.snapshotBytes(),
      pendingReads: status.pendingReads,
      transferee: status.transferee,
    },
    peers: status.progress.map((peer) => ({
      node: peer.id,
      match: peer.match,
      next: peer.next,
      state: peer.state,
      recentActive: peer.recentActive,
      inflight: peer.inflight,
      lastContactMsAgo: lastContact.has(peer.id) ? now - lastContact.get(peer.id)! : null,
    })),
    kv: { pendingWrites: kv.pendingWrites, ...kv.counters },
  };
}
