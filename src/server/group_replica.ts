/**
 * A replica of a shard-aware group (`main.ts node` with a [shardmaster] section): the generic
 * replica process hosting a {@link GroupServer}, wired to the shard master (a
 * ShardMasterClerk) and to the other groups (RPC transports resolved from the cluster config).
 */

import { addressBook } from "../config/mod.ts";
import { parseRequest } from "../kv/protocol.ts";
import { callGroup, type LeaderGuess, TimeoutError } from "../kv/clerk.ts";
import { RpcGroupTransport } from "../kv/rpc_transport.ts";
import type { PeerAddress } from "../net/peer_link.ts";
import {
  type GroupPeerRequest,
  type GroupPeerResponse,
  GroupServer,
} from "../shard/group_server.ts";
import { ShardMasterClerk } from "../shard/master_clerk.ts";
import { assert } from "../util/assert.ts";
import { Prng } from "../util/prng.ts";
import { registerGroupMetrics } from "./replica_metrics.ts";
import { groupOf, type ReplicaStartOptions, startReplicaProcess } from "./replica_process.ts";
import { errorMessage, isCount } from "../util/values.ts";

/** What `startGroupReplica` needs. */
export type GroupReplicaOptions = ReplicaStartOptions;

/** A running replica of a shard-aware group. */
export interface GroupReplica {
  readonly server: GroupServer;
  readonly raftPort: number;
  readonly adminPort: number;
  stop(): Promise<void>;
}

/** Starts replica `replicaId` of its shard-aware group. */
export async function startGroupReplica(options: GroupReplicaOptions): Promise<GroupReplica> {
  const { config } = options;
  const group = groupOf(config, options.replicaId);
  assert(
    config.shardmaster !== undefined,
    "the CLI starts group replicas only with a [shardmaster] section",
  );
  const addressOf = addressBook(config);
  const master = ShardMasterClerk.connect({
    servers: config.shardmaster.replicas.map((replica) => replica.raft),
    clusterName: config.cluster.name,
    secret: config.cluster.secret,
  });
  /**
   * One transport per distinct replica list, opened on first use and closed on stop, with
   * the replica that last answered there (the next call starts with it).
   */
  const peers = new Map<
    string,
    {
      transport: RpcGroupTransport<GroupPeerRequest, GroupPeerResponse>;
      leader: LeaderGuess;
    }
  >();
  let server: GroupServer | null = null;
  const random = new Prng(crypto.getRandomValues(new Uint32Array(1))[0]!);
  const peerOf = (servers: readonly string[]) => {
    const key = servers.join(",");
    const known = peers.get(key);
    if (known !== undefined) return known;
    const addresses = servers.map(addressOf);
    if (addresses.some((address) => address === undefined)) return null;
    const transport = new RpcGroupTransport<GroupPeerRequest, GroupPeerResponse>(
      {
        servers: addresses as PeerAddress[],
        clusterName: config.cluster.name,
        secret: config.cluster.secret,
        logger: options.logger,
      },
      parsePeerResponse,
    );
    const peer = { transport, leader: { server: 0 } };
    peers.set(key, peer);
    return peer;
  };
  const process = await startReplicaProcess({
    ...options,
    kind: "node",
    replicas: group.replicas,
    groupId: group.gid,
    host: (raft) => {
      const groupServer = new GroupServer({
        raft,
        gid: group.gid,
        shardCount: config.cluster.shards,
        snapshotThresholdBytes: config.raft.snapshotThresholdBytes,
        now: () => Date.now(),
        logger: options.logger,
        // About every 100 ms, as the classic design polls the shard master.
        pollTicks: Math.max(1, Math.round(100 / config.raft.tickMs)),
        neighbours: {
          queryConfig: (num, timeoutMs, done) => {
            master.query(num, { timeoutMs }).then(done, (error) => {
              if (!(error instanceof TimeoutError)) {
                options.logger.warn("shard master query failed", { error: errorMessage(error) });
              }
              done(null);
            });
          },
          callGroup: (servers, request, timeoutMs, done) => {
            const peer = peerOf(servers);
            if (peer === null) return done(null);
            callGroup(peer.transport, request, {
              what: request.type,
              timeoutMs,
              attemptTimeoutMs: timeoutMs / 2,
              random,
              leader: peer.leader,
            }).then(done, (error) => {
              if (!(error instanceof TimeoutError)) {
                options.logger.warn("call to another group failed", {
                  request: request.type,
                  error: errorMessage(error),
                });
              }
              done(null);
            });
          },
        },
      });
      server = groupServer;
      return {
        service: groupServer.service,
        handleClient: async (body) => {
          const peer = parsePeerRequest(body);
          if (peer !== null) return await groupServer.handlePeer(peer);
          const parsed = parseRequest(body);
          if (!parsed.ok) {
            return { ok: false, error: { code: "badRequest", message: parsed.message } };
          }
          return await groupServer.handle(parsed.request);
        },
        tick: () => groupServer.tick(),
        stop: () => groupServer.stop(),
        status: () => ({ ...groupServer.statusFields(), kv: { ...groupServer.counters } }),
        registerMetrics: (registry) => registerGroupMetrics(registry, groupServer),
      };
    },
  });
  assert(server !== null, "the group server was built");
  return {
    server,
    raftPort: process.raftPort,
    adminPort: process.adminPort,
    async stop() {
      await process.stop();
      await master.close();
      await Promise.all([...peers.values()].map((peer) => peer.transport.close()));
    },
  };
}

function parsePeerRequest(body: unknown): GroupPeerRequest | null {
  if (typeof body !== "object" || body === null) return null;
  const fields = body as Record<string, unknown>;
  if (fields.type !== "pullShard" && fields.type !== "deleteShard") return null;
  if (!isCount(fields.configNum) || !isCount(fields.shard)) return null;
  const configNum = fields.configNum;
  const shard = fields.shard;
  if (fields.type === "deleteShard") return { type: "deleteShard", configNum, shard };
  if (!isCount(fields.part)) return null;
  return { type: "pullShard", configNum, shard, part: fields.part };
}

function parsePeerResponse(body: unknown): GroupPeerResponse | null {
  if (typeof body !== "object" || body === null) return null;
  const fields = body as Record<string, unknown>;
  if (fields.ok === true) {
    if (fields.data === undefined) return { ok: true };
    // The bounds are checked again (with the part asked for) before anything is proposed.
    return fields.data instanceof Uint8Array && isCount(fields.parts) && fields.parts >= 1 &&
        isCount(fields.cut)
      ? { ok: true, data: fields.data, parts: fields.parts, cut: fields.cut }
      : null;
  }
  if (fields.ok !== false || typeof fields.error !== "object" || fields.error === null) return null;
  return typeof (fields.error as Record<string, unknown>).code === "string"
    ? { ok: false, error: fields.error as never }
    : null;
}
