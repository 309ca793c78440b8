/**
 * Tests of the e2e harness itself. The first runs the real main.ts: three `node`
 * processes must stay up for 2 s, or, while `node` is still the stub that exits 1 with
 * "not implemented", the harness must report that exit with the process's stderr and
 * leave no process or temp dir behind. The others run fixtures/fake_replica.ts, a
 * stand-in that serves GET /status without Raft, so that readiness, leaders, kill -9,
 * restarts, SIGTERM escalation, start failures and the CLI runner are checked the same
 * way whatever state the real node is in.
 */

import assert from "node:assert/strict";
import { denoRunProgram } from "../../src/supervisor/mod.ts";
import { ClusterStartError, E2ECluster, ProcessExitedError } from "./harness.ts";

const FAKE = denoRunProgram(
  new URL("./fixtures/fake_replica.ts", import.meta.url),
  Deno.execPath(),
);

/** Whether a pid names a live process (Linux only: elsewhere assume it is gone). */
function processExists(pid: number): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    return !Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]?.startsWith("Z");
  } catch {
    return false;
  }
}

async function assertCleanedUp(dir: string, pids: readonly number[]): Promise<void> {
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound, `${dir} is removed`);
  assert.ok(pids.length > 0);
  for (const pid of pids) assert.equal(processExists(pid), false, `pid ${pid} is gone`);
}

/** Watches the cluster for `ms`; returns the first unexpected exit, if any. */
async function firstExitWithin(
  cluster: E2ECluster,
  ms: number,
): Promise<ProcessExitedError | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      cluster.assertAllRunning();
    } catch (error) {
      if (error instanceof ProcessExitedError) return error;
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}

Deno.test("e2e harness: three real node processes stay up for 2 s, or the stub's exit is reported and cleaned up", async () => {
  const cluster = await E2ECluster.start({ groups: [3], ready: "spawned" });
  const { dir } = cluster;
  try {
    assert.deepEqual(cluster.ids(), ["g1-1", "g1-2", "g1-3"]);
    const version = await cluster.spawnCli(["--version"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^shardkv \d+\.\d+\.\d+/);

    const exited = await firstExitWithin(cluster, 2_000);
    if (exited === undefined) {
      for (const id of cluster.ids()) assert.equal(cluster.isRunning(id), true, id);
    } else {
      // `node` is still the stub: it exits 1 at once. Anything else is a real failure.
      if (!exited.stderr.includes("not implemented")) throw exited;
      assert.equal(exited.exit.code, 1);
      assert.match(
        exited.message,
        new RegExp(`^${exited.id} exited unexpectedly with exit code 1\n`),
      );
      assert.match(exited.message, /--- g1-1 \(.*\): last \d+ of \d+ lines ---/);
      assert.match(exited.message, /! shardkv node: not implemented yet/);
      await cluster.waitFor(
        () => cluster.ids().every((id) => !cluster.isRunning(id)),
        10_000,
        "every stub node to exit",
      );
      for (const id of cluster.ids()) {
        assert.match(cluster.logs(id, "stderr").join("\n"), /not implemented/);
      }
    }
  } finally {
    const pids = cluster.pids();
    await cluster.close();
    await assertCleanedUp(dir, pids);
  }
});

Deno.test("e2e harness: start waits for every admin endpoint; status, logs and admin URLs work", async () => {
  let dir = "";
  let pids: number[] = [];
  {
    await using cluster = await E2ECluster.start({ groups: [3], shardmaster: 1, program: FAKE });
    dir = cluster.dir;
    assert.deepEqual(cluster.ids(), ["sm-1", "g1-1", "g1-2", "g1-3"]);
    assert.deepEqual(cluster.ids("shardmaster"), ["sm-1"]);
    assert.deepEqual(cluster.ids(1), ["g1-1", "g1-2", "g1-3"]);
    assert.match(cluster.admin("g1-2"), /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(cluster.config.raft.tickMs, 20);
    assert.equal(cluster.config.storage.dataDir, `${dir}/data`);
    assert.ok(cluster.configPath.startsWith(dir));

    const status = await cluster.status("g1-2");
    assert.deepEqual(status, { id: "g1-2", role: "follower", term: 0, group: 1 });
    assert.equal((await cluster.status("sm-1"))?.group, "shardmaster");
    // The fake writes its "listening" line in two pieces; it arrives as one line.
    const port = new URL(cluster.admin("g1-1")).port;
    await cluster.waitFor(
      () => cluster.logs("g1-1", "stdout").includes(`fake g1-1: listening on 127.0.0.1:${port}`),
      5_000,
      "the listening line of g1-1",
    );
    assert.match(cluster.logs("g1-1")[0] ?? "", /^\[harness\] started g1-1 \(pid \d+\)$/);
    assert.throws(
      () => cluster.admin("nope"),
      /no replica "nope" in this cluster \(known: sm-1, g1-1/,
    );
    pids = cluster.pids();
  }
  await assertCleanedUp(dir, pids);
});

Deno.test("e2e harness: leader() picks the highest-term leader; kill9, restart and terminate", async () => {
  await using cluster = await E2ECluster.start({ groups: [3], program: FAKE });
  const setStatus = (id: string, status: object) =>
    Deno.writeTextFile(`${cluster.dir}/data/${id}/fake_status.json`, JSON.stringify(status));
  assert.equal(await cluster.leader(1), null);
  await setStatus("g1-1", { role: "leader", term: 2 });
  await setStatus("g1-3", { role: "leader", term: 5 });
  assert.equal(await cluster.leader(1), "g1-3");

  const exit = await cluster.kill9("g1-3");
  assert.equal(exit?.signal, "SIGKILL");
  assert.equal(cluster.isRunning("g1-3"), false);
  assert.equal(await cluster.status("g1-3", 300), null);
  assert.equal(await cluster.leader(1), "g1-1");
  cluster.assertAllRunning(); // a kill the test asked for is not a failure

  await cluster.restart("g1-3");
  await cluster.waitReady("g1-3", 10_000);
  assert.equal(await cluster.leader(1), "g1-3");
  assert.equal(cluster.logs("g1-3").filter((line) => line.includes("[harness] started")).length, 2);

  assert.equal(await cluster.terminate("g1-2"), 0, "the fake exits 0 on SIGTERM");
  assert.ok(cluster.logs("g1-2", "stdout").includes("fake g1-2: SIGTERM, exiting"));
  await assert.rejects(() => cluster.leader(2), /no group 2 in this cluster/);
});

Deno.test("e2e harness: terminate() falls back to SIGKILL when SIGTERM is ignored", async () => {
  await using cluster = await E2ECluster.start({
    groups: [1],
    program: FAKE,
    env: { SHARDKV_FAKE_IGNORE_SIGTERM: "1" },
  });
  const code = await cluster.terminate("g1-1", 300);
  assert.notEqual(code, 0);
  assert.ok(cluster.logs("g1-1").some((line) => line.includes("ignored SIGTERM for 300 ms")));
});

Deno.test("e2e harness: a process that exits during start fails start() with its stderr, and nothing is left", async () => {
  let failure: unknown;
  try {
    await E2ECluster.start({
      groups: [3],
      program: FAKE,
      env: { SHARDKV_FAKE_FAIL_IDS: "g1-2", SHARDKV_FAKE_EXIT_CODE: "7" },
    });
  } catch (error) {
    failure = error;
  }
  assert.ok(failure instanceof ClusterStartError, `expected a ClusterStartError: ${failure}`);
  assert.equal(failure.exited?.id, "g1-2");
  assert.equal(failure.exited?.exit.code, 7);
  assert.match(failure.exited?.stderr ?? "", /fake g1-2: refusing to start/);
  assert.match(
    failure.message,
    /^Cannot start the e2e cluster: g1-2 exited unexpectedly with exit code 7\n/,
  );
  assert.match(failure.message, /! fake g1-2: refusing to start/);
  assert.equal(failure.pids.length, 3);
  await assertCleanedUp(failure.tempDir, failure.pids);
});

Deno.test("e2e harness: waitFor returns the first truthy value, or times out naming what and showing logs", async () => {
  await using cluster = await E2ECluster.start({ groups: [1], program: FAKE });
  let calls = 0;
  assert.equal(await cluster.waitFor(() => ++calls >= 3 && "done", 5_000, "three calls"), "done");
  const started = Date.now();
  await assert.rejects(
    cluster.waitFor(
      () => {
        throw new Error("still no quorum");
      },
      200,
      "a quorum",
    ),
    (error: Error) => {
      assert.match(
        error.message,
        /^Timed out after 200 ms waiting for a quorum \(last error: still no quorum\)\n/,
      );
      assert.match(error.message, /--- g1-1 \(running, pid \d+\): last \d+ of \d+ lines ---/);
      return true;
    },
  );
  assert.ok(Date.now() - started < 2_000);
  // An exit the test did not ask for ends a wait at once instead of running out the clock.
  const pid = cluster.pids()[0]!;
  Deno.kill(pid, "SIGKILL");
  await assert.rejects(
    cluster.waitFor(
      () => {
        cluster.assertAllRunning();
        return false;
      },
      60_000,
      "something that never happens",
    ),
    (error: Error) => {
      assert.ok(error instanceof ProcessExitedError);
      assert.match(error.message, /^g1-1 exited unexpectedly with signal SIGKILL\n/);
      return true;
    },
  );
  assert.ok(Date.now() - started < 10_000);
});

Deno.test("e2e harness: config overrides, structured or as text, reach the config file", async () => {
  await using cluster = await E2ECluster.start({
    groups: [2],
    ready: "spawned",
    program: FAKE,
    configOverrides: { raft: { tick_ms: 7, election_ticks: 40 }, log: { level: "debug" } },
  });
  assert.equal(cluster.config.raft.tickMs, 7);
  assert.equal(cluster.config.raft.electionTicks, 40);
  assert.equal(cluster.config.log.level, "debug");
  assert.match(await Deno.readTextFile(cluster.configPath), /\ntick_ms = 7\n/);

  await using textual = await E2ECluster.start({
    groups: [1],
    ready: "spawned",
    program: FAKE,
    configOverrides: (toml) => toml.replace('name = "shardkv-e2e"', 'name = "renamed"'),
  });
  assert.equal(textual.config.cluster.name, "renamed");

  await assert.rejects(
    E2ECluster.start({ groups: [1], program: FAKE, configOverrides: { raft: { tick_ms: 0 } } }),
    /raft\.tick_ms/,
  );
  await assert.rejects(E2ECluster.start({ groups: [1, 1] }), /several groups need a shard master/);
});

Deno.test("e2e harness: spawnCli adds --config after the command and feeds stdin", async () => {
  await using cluster = await E2ECluster.start({ groups: [1], ready: "spawned", program: FAKE });
  const result = await cluster.spawnCli(["echo", "get", "k"], "line one\nline two\n");
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "line one\nline two\n");
  assert.deepEqual(JSON.parse(result.stderr), ["--config", cluster.configPath, "get", "k"]);
  const given = await cluster.spawnCli(["echo", "--config", "other.toml"]);
  assert.deepEqual(JSON.parse(given.stderr), ["--config", "other.toml"]);
});
