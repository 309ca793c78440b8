/**
 * A running replica process of any replicated service (`main.ts node`, `main.ts shardmaster`):
 * file storage recovered from the data directory, the TCP transport to the group's peers,
 * the listener for peers and clients, the service on a tick timer, and the admin endpoint
 * (status, health, metrics, leadership transfer). `stop()` shuts down in order: stop
 * accepting, stop ticking, wait for the outstanding fsync, close everything.
 */

import type { Config, GroupConfig, ReplicaConfig } from "../config/mod.ts";
import { formatAddress, replicaDataDir } from "../config/mod.ts";
import type { RaftNodeOptions } from "../raft/node.ts";
import type { ServiceCounters } from "../service/replicated_service.ts";
import type { RaftNode } from "../raft/node.ts";
import type { Hono } from "hono";
import type { RequireToken } from "../net/admin_app.ts";
import { type AdminServer, createAdminApp, serveAdmin } from "../net/admin_app.ts";
import { NetServer } from "../net/server.ts";
import { TcpTransport } from "../net/tcp_transport.ts";
import { asNodeId, type NodeId } from "../raft/core/types.ts";
import { RAFT_DEFAULTS, type RaftConfig } from "../raft/core/raft_config.ts";
import { FileStorage } from "../raft/wal/file_storage.ts";
import { assert } from "../util/assert.ts";
import type { Logger } from "../util/logger.ts";
import type { MetricsRegistry } from "../util/metrics.ts";
import { Prng } from "../util/prng.ts";
import { CountingTransport, TimedStorage } from "./instrumented.ts";
import { createReplicaMetrics } from "./replica_metrics.ts";

/** The Raft pieces a hosted service is built on. */
export type ServiceRaftOptions = Omit<RaftNodeOptions, "stateMachine" | "onRead" | "onApplied">;

/** What the process needs to see of a service: its Raft node and its counters. */
export interface ServiceView {
  readonly node: RaftNode;
  readonly counters: Readonly<ServiceCounters>;
  readonly pendingProposals: number;
}

/** A service running inside a replica process. */
export interface HostedService {
  readonly service: ServiceView;
  /** Answers one client RPC body (validate it first: it comes off the network). */
  handleClient(body: unknown): Promise<unknown>;
  /** One tick of the service (Raft, and any periodic work of its own). */
  tick(): void;
  stop(): void;
  /** Service-specific fields of GET /status. */
  status(): Record<string, unknown>;
  /** Service-specific admin routes. */
  adminRoutes?(app: Hono, requireToken: RequireToken): void;
  /** Registers service-specific metrics of GET /metrics (read from the service when scraped). */
  registerMetrics?(registry: MetricsRegistry): void;
}

/** What starting any replica takes: the cluster, which replica, where to log, what to do on a fatal error. */
export interface ReplicaStartOptions {
  readonly config: Config;
  readonly replicaId: string;
  readonly logger: Logger;
  /** Called when the replica must stop because of a fatal error (storage failure). */
  readonly onFatal: (error: Error) => void;
}

/** The replica group `replicaId` belongs to (the CLI has checked that it belongs to one). */
export function groupOf(config: Config, replicaId: string): GroupConfig {
  const group = config.groups.find((candidate) =>
    candidate.replicas.some((replica) => replica.id === replicaId)
  );
  assert(
    group !== undefined,
    () => `Replica ${replicaId} is not in any group (the CLI checks this first)`,
  );
  return group;
}

/** What `startReplicaProcess` needs. */
export interface ReplicaProcessOptions {
  readonly config: Config;
  readonly replicaId: string;
  /** What the process is, for logs and /status: "node" or "shardmaster". */
  readonly kind: "node" | "shardmaster";
  /** The Raft group: its replicas in order (a replica's node id is its 1-based position). */
  readonly replicas: readonly ReplicaConfig[];
  /** The group id peers present in the handshake (0 for the shard master's group). */
  readonly groupId: number;
  readonly logger: Logger;
  /** Called when the replica must stop because of a fatal error (storage failure). */
  readonly onFatal: (error: Error) => void;
  /** Builds the service on the Raft pieces. */
  readonly host: (raft: ServiceRaftOptions) => HostedService;
}

/** A running replica process. */
export interface ReplicaProcess {
  readonly hosted: HostedService;
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

/** Starts replica `replicaId` of its group; throws a clear error when something is wrong. */
export async function startReplicaProcess(options: ReplicaProcessOptions): Promise<ReplicaProcess> {
  const { config, replicaId, replicas, groupId } = options;
  const position = replicas.findIndex((replica) => replica.id === replicaId);
  assert(
    position >= 0,
    () => `Replica ${replicaId} is not in its group (the CLI checks this first)`,
  );
  const self = replicas[position]!;
  const selfId = asNodeId(position + 1);
  const voters = replicas.map((_, k) => asNodeId(k + 1));
  const logger = options.logger.child({
    replica: replicaId,
    kind: options.kind,
    gid: groupId,
    node: selfId,
  });
  const metrics = createReplicaMetrics({
    service: () => hosted?.service ?? null,
    node: () => hosted?.service.node ?? null,
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
  let hosted: HostedService | null = null;
  let admin: AdminServer | null = null;
  let ticker: ReturnType<typeof setInterval> | null = null;
  let stopping = false;
  /** Wall-clock time of the last message from each peer, for /status. */
  const lastContact = new Map<number, number>();
  try {
    transport = new TcpTransport({
      selfId,
      groupId,
      clusterName: config.cluster.name,
      secret: config.cluster.secret,
      peers: peerAddresses(replicas, selfId),
      logger,
    });
    const seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
    const active = options.host({
      config: raftConfigFor(config, selfId, voters, seed),
      storage: new TimedStorage(storage, metrics.storageWriteMs, metrics.entriesWritten),
      transport: new CountingTransport(transport, metrics.messagesSent),
      onFatal: (error) => {
        logger.error("storage failed; stopping", { error: error.message });
        options.onFatal(error);
      },
    });
    hosted = active;
    active.registerMetrics?.(metrics.registry);
    const node = active.service.node;
    server = await NetServer.listen({
      host: self.raft.host,
      port: self.raft.port,
      clusterName: config.cluster.name,
      secret: config.cluster.secret,
      groupId,
      selfId,
      allowedPeers: new Set(voters.filter((voter) => voter !== selfId)),
      onPeerMessages: (messages) => {
        const now = Date.now();
        for (const message of messages) lastContact.set(message.from, now);
        node.receiveAll(messages);
      },
      onClientRequest: (body) => active.handleClient(body),
      logger,
    });
    let lastRole = node.core.role;
    ticker = setInterval(() => {
      active.tick();
      const core = node.core;
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
      status: () => ({
        ...replicaStatus(replicaId, options.kind, groupId, active.service, storage, lastContact),
        ...active.status(),
      }),
      metrics: () => metrics.render(),
      healthy: () => !stopping && !node.stopped,
      adminToken: config.cluster.adminToken,
      extend: (hono, requireToken) => {
        hono.post(
          "/leadership/transfer",
          requireToken(async (c) => {
            const body = await c.req.json().catch(() => ({})) as { to?: unknown };
            const target = replicas.findIndex((replica) => replica.id === body.to);
            if (target < 0) {
              return c.json({
                error: "badRequest",
                message: `"to" must name a replica of this group (${
                  replicas.map((r) => r.id).join(", ")
                })`,
              }, 400);
            }
            const result = node.transferLeadership(asNodeId(target + 1));
            return result.ok
              ? c.json({ ok: true })
              : c.json({ error: result.error.code, detail: result.error }, 409);
          }),
        );
        active.adminRoutes?.(hono, requireToken);
      },
    });
    admin = await serveAdmin(app, self.admin.host, self.admin.port);
    logger.info("replica started", {
      raft: formatAddress(self.raft),
      admin: `http://${formatAddress({ host: self.admin.host, port: admin.port })}`,
      dataDir,
      lastIndex: node.core.log.lastIndex(),
      term: node.core.term,
    });
  } catch (error) {
    if (ticker !== null) clearInterval(ticker);
    await server?.close();
    await transport?.close();
    hosted?.stop();
    await admin?.shutdown();
    await storage.close();
    throw error;
  }
  assert(
    hosted !== null && server !== null && transport !== null && admin !== null && ticker !== null,
    "replica started",
  );
  const started = { hosted, server, transport, admin, ticker };
  return {
    hosted: started.hosted,
    raftPort: started.server.port,
    adminPort: started.admin.port,
    async stop() {
      if (stopping) return;
      stopping = true;
      logger.info("stopping");
      await started.server.close();
      clearInterval(started.ticker);
      started.hosted.stop();
      await storage.close();
      await started.transport.close();
      await started.admin.shutdown();
      logger.info("stopped");
    },
  };
}

function peerAddresses(
  replicas: readonly ReplicaConfig[],
  selfId: NodeId,
): Map<NodeId, ReplicaConfig["raft"]> {
  const peers = new Map<NodeId, ReplicaConfig["raft"]>();
  replicas.forEach((replica, k) => {
    if (k + 1 !== selfId) peers.set(asNodeId(k + 1), replica.raft);
  });
  return peers;
}

function replicaStatus(
  replicaId: string,
  kind: string,
  gid: number,
  service: ServiceView,
  storage: FileStorage,
  lastContact: ReadonlyMap<number, number>,
): Record<string, unknown> {
  const now = Date.now();
  const status = service.node.status();
  return {
    id: replicaId,
    kind,
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
    service: { pendingProposals: service.pendingProposals, ...service.counters },
  };
}
