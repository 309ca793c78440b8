/**
 * The shard master replica process (`main.ts shardmaster`): the generic replica process
 * hosting a {@link ShardMasterServer}, plus the admin routes of the shard master:
 * `POST /join` `{"gids":[1,2]}` (groups as described in the config file) or
 * `{"groups":{"4":["a","b","c"]}}`, `POST /leave` `{"gids":[2]}`, `POST /move`
 * `{"shard":3,"gid":1}` (all three need the admin token), and `GET /config/:num`
 * (`latest` or a number). A replica that does not lead answers 503 naming the leader.
 */

import type { Context } from "hono";
import type { MasterRequest, MasterResponse } from "../shard/master_protocol.ts";
import { parseMasterRequest } from "../shard/master_protocol.ts";
import { ShardMasterServer } from "../shard/master_server.ts";
import { joinGroups } from "../shard/join_groups.ts";
import { assert } from "../util/assert.ts";
import { registerMasterMetrics } from "./replica_metrics.ts";
import { type ReplicaStartOptions, startReplicaProcess } from "./replica_process.ts";

/** What `startShardMasterReplica` needs. */
export type ShardMasterReplicaOptions = ReplicaStartOptions;

/** A running shard master replica. */
export interface ShardMasterReplica {
  readonly server: ShardMasterServer;
  readonly raftPort: number;
  readonly adminPort: number;
  stop(): Promise<void>;
}

/** Starts shard master replica `replicaId`. */
export async function startShardMasterReplica(
  options: ShardMasterReplicaOptions,
): Promise<ShardMasterReplica> {
  const { config } = options;
  const replicas = config.shardmaster?.replicas ?? [];
  assert(
    replicas.some((replica) => replica.id === options.replicaId),
    "the CLI checks the replica first",
  );
  let server: ShardMasterServer | null = null;
  // The admin endpoint's own client session, so its changes are exactly-once too.
  const adminClientId = crypto.getRandomValues(new Uint32Array(1))[0]! + 1;
  let adminSeq = 0;
  const process = await startReplicaProcess({
    ...options,
    kind: "shardmaster",
    replicas,
    groupId: 0,
    host: (raft) => {
      const master = new ShardMasterServer({
        raft,
        shardCount: config.cluster.shards,
        snapshotThresholdBytes: config.raft.snapshotThresholdBytes,
        now: () => Date.now(),
      });
      server = master;
      const answer = async (c: Context, request: MasterRequest) => {
        const response = await master.handle(request);
        return respondAdmin(c, response, replicas.map((replica) => replica.id));
      };
      return {
        service: master.service,
        handleClient: async (body) => {
          const parsed = parseMasterRequest(body);
          if (!parsed.ok) {
            return { ok: false, error: { code: "badRequest", message: parsed.message } };
          }
          return await master.handle(parsed.request);
        },
        tick: () => master.tick(),
        stop: () => master.stop(),
        status: () => ({ config: master.state.latest().num, shardmaster: { ...master.counters } }),
        registerMetrics: (registry) => registerMasterMetrics(registry, master),
        adminRoutes: (app, requireToken) => {
          app.post(
            "/join",
            requireToken(async (c) => {
              const body = await jsonBody(c);
              const groups = joinGroups(config, body);
              if (typeof groups === "string") {
                return c.json({ error: "badRequest", message: groups }, 400);
              }
              return await answer(c, {
                type: "join",
                groups,
                clientId: adminClientId,
                seq: ++adminSeq,
              });
            }),
          );
          app.post(
            "/leave",
            requireToken(async (c) => {
              const body = await jsonBody(c);
              if (!Array.isArray(body.gids) || !body.gids.every(Number.isSafeInteger)) {
                return c.json({
                  error: "badRequest",
                  message: '"gids" must be an array of integers',
                }, 400);
              }
              return await answer(c, {
                type: "leave",
                gids: body.gids as number[],
                clientId: adminClientId,
                seq: ++adminSeq,
              });
            }),
          );
          app.post(
            "/move",
            requireToken(async (c) => {
              const body = await jsonBody(c);
              if (!Number.isSafeInteger(body.shard) || !Number.isSafeInteger(body.gid)) {
                return c.json({
                  error: "badRequest",
                  message: '"shard" and "gid" must be integers',
                }, 400);
              }
              const move = { shard: body.shard as number, gid: body.gid as number };
              return await answer(c, {
                type: "move",
                ...move,
                clientId: adminClientId,
                seq: ++adminSeq,
              });
            }),
          );
          app.get("/config/:num", async (c) => {
            const text = c.req.param("num");
            const num = text === "latest" ? -1 : Number(text);
            if (!Number.isSafeInteger(num) || num < -1) {
              return c.json({
                error: "badRequest",
                message: `"${text}" is not a config number or "latest"`,
              }, 400);
            }
            return await answer(c, { type: "query", num });
          });
        },
      };
    },
  });
  assert(server !== null, "the shard master server was built");
  return {
    server,
    raftPort: process.raftPort,
    adminPort: process.adminPort,
    stop: () => process.stop(),
  };
}

async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  const body = await c.req.json().catch(() => null);
  return typeof body === "object" && body !== null && !Array.isArray(body)
    ? body as Record<string, unknown>
    : {};
}

function respondAdmin(
  c: Context,
  response: MasterResponse,
  replicaIds: readonly string[],
): Response {
  if (response.ok) return c.json(response.config ?? { num: response.num });
  const error = response.error;
  if (error.code === "notLeader") {
    const leader = error.leaderHint === null ? null : replicaIds[error.leaderHint - 1] ?? null;
    return c.json({
      error: "notLeader",
      message: "this replica does not lead the shard master group",
      leader,
    }, 503);
  }
  const status = error.code === "busy" ? 503 : error.code === "badRequest" ? 400 : 409;
  return c.json({ error: error.code, message: error.message }, status);
}
