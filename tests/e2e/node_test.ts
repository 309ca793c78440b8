/**
 * End-to-end tests of the `node` process (the node runtime issue): real `main.ts node`
 * processes on free loopback ports, driven through their admin endpoints, the CLI clerk and
 * raw TCP. They cover leader election and failover after `kill -9`, recovery of a killed
 * node from its data directory, a clean SIGTERM shutdown, a peer with the wrong cluster
 * secret, and malformed frames on the Raft port. Every process is cleaned up by the harness,
 * also when a test fails.
 */

import assert from "node:assert/strict";
import { E2ECluster } from "./harness.ts";

/** The raft.commit of a status document, or -1. */
function commitOf(status: Record<string, unknown> | null): number {
  const raft = status?.raft as { commit?: unknown } | undefined;
  return typeof raft?.commit === "number" ? raft.commit : -1;
}

async function leaderOf(cluster: E2ECluster, what: string, timeoutMs = 10_000): Promise<string> {
  return await cluster.waitFor(() => cluster.leader(1), timeoutMs, what);
}

Deno.test("node: three processes elect one leader; kill -9 of it gives a new leader within 5 s; the killed node catches up from its data directory", async () => {
  await using cluster = await E2ECluster.start({ groups: [3] });
  const first = await leaderOf(cluster, "a first leader");
  const statuses = await Promise.all(cluster.ids(1).map((id) => cluster.status(id)));
  assert.equal(
    statuses.filter((status) => status?.role === "leader").length,
    1,
    "exactly one leader",
  );
  const put = await cluster.spawnCli(["clerk", "put", "before-kill", "v1"]);
  assert.equal(put.code, 0, put.stderr);

  await cluster.kill9(first);
  const second = await cluster.waitFor(
    async () => {
      const leader = await cluster.leader(1);
      return leader !== null && leader !== first ? leader : null;
    },
    5_000,
    "a new leader within 5 s of kill -9",
  );
  const after = await cluster.spawnCli(["clerk", "put", "after-kill", "v2"]);
  assert.equal(after.code, 0, after.stderr);

  await cluster.restart(first);
  await cluster.waitReady(first);
  const target = commitOf(await cluster.status(second));
  assert.ok(target > 0);
  await cluster.waitFor(
    async () => commitOf(await cluster.status(first)) >= target,
    10_000,
    `${first}'s commit index to reach ${target}`,
  );
  const read = await cluster.spawnCli(["clerk", "get", "before-kill"]);
  assert.equal(read.stdout, "v1\n", read.stderr);
});

Deno.test("node: SIGTERM stops a node cleanly (exit 0) and it restarts from its data", async () => {
  await using cluster = await E2ECluster.start({ groups: [3] });
  await leaderOf(cluster, "a leader");
  assert.equal((await cluster.spawnCli(["clerk", "put", "k", "v"])).code, 0);
  const [victim] = cluster.ids(1);
  assert.equal(await cluster.terminate(victim!), 0, cluster.logs(victim!).slice(-20).join("\n"));
  await cluster.restart(victim!);
  await cluster.waitReady(victim!);
  const read = await cluster.spawnCli(["clerk", "get", "k"]);
  assert.equal(read.stdout, "v\n", read.stderr);
});

Deno.test("node: a node with the wrong cluster secret is refused by its peers, and the cluster keeps its leader", async () => {
  await using cluster = await E2ECluster.start({ groups: [3] });
  const leader = await leaderOf(cluster, "a leader");
  const term = (await cluster.status(leader))!.term;
  const victim = cluster.ids(1).find((id) => id !== leader)!;
  await cluster.terminate(victim);
  // Restart the victim with a config that differs only in its secret.
  const original = await Deno.readTextFile(cluster.configPath);
  const wrong = original.replace(/secret = "[^"]*"/, 'secret = "a-completely-different-secret"');
  assert.notEqual(wrong, original);
  await Deno.writeTextFile(cluster.configPath, wrong);
  try {
    await cluster.restart(victim);
    await cluster.waitReady(victim);
  } finally {
    await Deno.writeTextFile(cluster.configPath, original);
  }
  await cluster.waitFor(
    () =>
      cluster.logs(leader).some((line) =>
        line.includes("handshake failed") && /authentication/.test(line)
      ),
    10_000,
    `${leader} to log that it refused ${victim}`,
  );
  // Give the outsider time to campaign: it must never disturb the leader.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const status = await cluster.status(leader);
  assert.equal(status?.role, "leader");
  assert.equal(status?.term, term, "the refused node did not raise the term");
  const put = await cluster.spawnCli(["clerk", "put", "still", "served"]);
  assert.equal(put.code, 0, put.stderr);
});

Deno.test("node: garbage bytes, an oversized length prefix and a truncated frame are logged, and the node keeps serving", async () => {
  await using cluster = await E2ECluster.start({ groups: [3] });
  const leader = await leaderOf(cluster, "a leader");
  const replica = cluster.config.groups[0]!.replicas.find((r) => r.id === leader)!;
  const payloads = [
    new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), // Garbage.
    new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]), // A 4 GiB length prefix.
    new Uint8Array([0, 0, 0, 100, 1, 2, 3]), // A frame cut short, then closed.
  ];
  for (const payload of payloads) {
    const connection = await Deno.connect({ hostname: replica.raft.host, port: replica.raft.port });
    try {
      await connection.write(payload);
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      try {
        connection.close();
      } catch {
        // The node may already have closed it.
      }
    }
  }
  await cluster.waitFor(
    () =>
      cluster.logs(leader).filter((line) => line.includes("handshake failed")).length >=
        payloads.length,
    5_000,
    `${leader} to log the bad connections`,
  );
  cluster.assertAllRunning();
  assert.equal((await cluster.status(leader))?.role, "leader");
  const put = await cluster.spawnCli(["clerk", "put", "after", "garbage"]);
  assert.equal(put.code, 0, put.stderr);
  const read = await cluster.spawnCli(["clerk", "get", "after"]);
  assert.equal(read.stdout, "garbage\n");
});

Deno.test("node: POST /leadership/transfer hands leadership to the named replica (thesis §3.10), with the admin token only", async () => {
  await using cluster = await E2ECluster.start({ groups: [3] });
  const leader = await leaderOf(cluster, "a leader");
  const target = cluster.ids(1).find((id) => id !== leader)!;
  const anonymous = await fetch(`${cluster.admin(leader)}/leadership/transfer`, {
    method: "POST",
    body: JSON.stringify({ to: target }),
  });
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
  const result = await cluster.adminCall(leader, "POST", "/leadership/transfer", { to: target });
  assert.equal(result?.status, 200, JSON.stringify(result?.body));
  await cluster.waitFor(
    async () => (await cluster.leader(1)) === target,
    5_000,
    `${target} to lead`,
  );
  const put = await cluster.spawnCli(["clerk", "put", "after", "transfer"]);
  assert.equal(put.code, 0, put.stderr);
});
