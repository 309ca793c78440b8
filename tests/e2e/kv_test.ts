/**
 * End-to-end test of the replicated KV service on real processes: concurrent clerks over TCP
 * while replicas are killed with `kill -9` and restarted, then every replica killed at once
 * and restarted; the recorded history (calls, returns, outcomes) must be linearizable, which
 * also proves that nothing acknowledged was lost across the crashes.
 */

import assert from "node:assert/strict";
import { Clerk, KvRequestError, TimeoutError } from "../../src/kv/clerk.ts";
import { RpcKvTransport } from "../../src/kv/rpc_transport.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { Prng } from "../../src/util/prng.ts";
import { checkHistory, HistoryRecorder, type Invocation } from "../linearizability/mod.ts";
import { E2ECluster } from "./harness.ts";

const CLIENTS = 4;
const KEYS = 3;

function clerkFor(cluster: E2ECluster, seed: number): Clerk {
  const config = cluster.config;
  const transport = new RpcKvTransport({
    servers: config.groups[0]!.replicas.map((replica) => replica.raft),
    clusterName: config.cluster.name,
    secret: config.cluster.secret,
    logger: silentLogger,
  });
  return new Clerk({
    transport,
    random: new Prng(seed),
    defaultTimeoutMs: 3_000,
    attemptTimeoutMs: 500,
  });
}

/** Runs one recorded operation; a timeout or refusal leaves its outcome unknown. */
async function recorded(
  clerk: Clerk,
  recorder: HistoryRecorder,
  client: number,
  invocation: Invocation,
): Promise<void> {
  const handle = recorder.begin(client, invocation);
  try {
    switch (invocation.kind) {
      case "get":
        recorder.end(handle, await clerk.get(invocation.key));
        return;
      case "put":
        await clerk.put(invocation.key, invocation.value);
        break;
      case "append":
        await clerk.append(invocation.key, invocation.value);
        break;
      case "delete":
        await clerk.delete(invocation.key);
        break;
    }
    recorder.end(handle);
  } catch (error) {
    if (!(error instanceof TimeoutError || error instanceof KvRequestError)) throw error;
    recorder.timeout(handle);
  }
}

Deno.test("kv e2e: concurrent clerks through kill -9 and restarts (one, then all) keep a linearizable history", async () => {
  await using cluster = await E2ECluster.start({ groups: [3] });
  await cluster.waitFor(() => cluster.leader(1), 10_000, "a leader");
  const recorder = new HistoryRecorder(() => performance.now());
  const random = new Prng(2026);
  const clerks = Array.from({ length: CLIENTS }, (_, c) => clerkFor(cluster, 100 + c));
  let stop = false;
  const completed = clerks.map(() => 0);
  const loops = clerks.map(async (clerk, c) => {
    const mine = random.fork();
    for (let j = 0; !stop; j++) {
      const key = `k${mine.int(KEYS)}`;
      const roll = mine.float();
      const invocation: Invocation = roll < 0.5
        ? { kind: "append", key, value: `x ${c} ${j} y` }
        : roll < 0.55
        ? { kind: "put", key, value: `p ${c} ${j}` }
        : { kind: "get", key };
      await recorded(clerk, recorder, c, invocation);
      completed[c]!++;
    }
  });
  try {
    const ids = cluster.ids(1);
    for (let round = 0; round < 3; round++) {
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      const victim = round === 1
        ? (await cluster.leader(1)) ?? ids[0]!
        : ids[random.int(ids.length)]!;
      await cluster.kill9(victim);
      await new Promise((resolve) => setTimeout(resolve, 800));
      await cluster.restart(victim);
      await cluster.waitReady(victim);
    }
    // Every replica dies at once: only what was durable survives.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await Promise.all(ids.map((id) => cluster.kill9(id)));
    for (const id of ids) await cluster.restart(id);
    for (const id of ids) await cluster.waitReady(id);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  } finally {
    stop = true;
    await Promise.all(loops);
  }
  // Final reads after everything: they must show every acknowledged write.
  const reader = clerkFor(cluster, 999);
  try {
    for (let k = 0; k < KEYS; k++) {
      await recorded(reader, recorder, CLIENTS, { kind: "get", key: `k${k}` });
    }
  } finally {
    await reader.close();
    await Promise.all(clerks.map((clerk) => clerk.close()));
  }
  const operations = recorder.operations();
  const began = performance.now();
  const result = checkHistory(operations, { budgetMs: 30_000 });
  const ms = Math.round(performance.now() - began);
  const unknown = operations.filter((operation) => operation.return === undefined).length;
  console.log(
    `kv e2e: ${operations.length} operations (${unknown} with unknown outcome), completed per client ${completed}, checked in ${ms} ms: ${result.result}`,
  );
  assert.notEqual(result.result, "illegal", result.result === "illegal" ? result.explanation : "");
  assert.ok(completed.every((count) => count > 5), `every client made progress: ${completed}`);
});
