/**
 * `shardkv local` on real processes. Most tests run fixtures/local_with_fake.ts (the
 * supervisor with fake_replica.ts as its children) as a process of its own and send it
 * real signals: children are tagged, restarted with backoff, stopped by SIGTERM/SIGINT
 * (SIGKILL after the grace period) and never outlive it. One test runs the real
 * `main.ts local --no-restart`: while `node` is a stub it must exit 1 and say why; once
 * `node` runs, it must keep the cluster up until SIGINT and then exit 0.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/mod.ts";
import {
  denoRunProgram,
  MAIN_MODULE_URL,
  ManagedChild,
  superviseLocal,
} from "../../src/supervisor/mod.ts";
import { clusterToml, layoutCluster, portsNeeded } from "./cluster_toml.ts";
import { freeLoopbackPorts } from "./ports.ts";

const DRIVER = denoRunProgram(
  new URL("./fixtures/local_with_fake.ts", import.meta.url),
  Deno.execPath(),
);
const FAKE = denoRunProgram(
  new URL("./fixtures/fake_replica.ts", import.meta.url),
  Deno.execPath(),
);
const SHARDKV = denoRunProgram(MAIN_MODULE_URL, Deno.execPath());

/** A config of one group of `replicas` on free ports, in a fresh temp dir. */
async function tempCluster(replicas: number): Promise<{ dir: string; configPath: string }> {
  const dir = await Deno.makeTempDir({ prefix: "shardkv-local-test-" });
  const layout = layoutCluster([replicas], 0, freeLoopbackPorts(portsNeeded([replicas], 0)));
  const configPath = `${dir}/cluster.toml`;
  await Deno.writeTextFile(configPath, clusterToml(layout, `${dir}/data`));
  return { dir, configPath };
}

/** A supervisor process whose output lines (both streams, in order) are collected. */
function spawnSupervisor(
  program: typeof DRIVER,
  args: string[],
  env: Record<string, string> = {},
): { child: ManagedChild; lines: string[] } {
  const lines: string[] = [];
  const child = ManagedChild.spawn({
    program,
    commandArgs: args,
    env: { NO_COLOR: "1", ...env },
    onLine: (_stream, line) => lines.push(line),
  });
  return { child, lines };
}

async function waitForLines(
  lines: readonly string[],
  pattern: RegExp,
  count: number,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (lines.filter((line) => pattern.test(line)).length < count) {
    if (Date.now() > deadline) {
      throw new Error(
        `no ${count} lines matching ${pattern} within ${timeoutMs} ms:\n${lines.join("\n")}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The pids the supervisor reported starting. */
function childPids(lines: readonly string[]): number[] {
  return lines.flatMap((line) => {
    const match = /^\[local\] +started \S+ \(pid (\d+)\)$/.exec(line);
    return match === null ? [] : [Number(match[1])];
  });
}

function processExists(pid: number): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    return !Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]?.startsWith("Z");
  } catch {
    return false;
  }
}

/** Children are reaped by the supervisor before it exits; allow the kernel a moment. */
async function assertGone(pids: readonly number[]): Promise<void> {
  assert.ok(pids.length > 0, "some children were started");
  for (let attempt = 0; pids.some(processExists) && attempt < 50; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const pid of pids) assert.equal(processExists(pid), false, `child ${pid} is gone`);
}

Deno.test("local: tags each child's lines, prints the endpoint table, and SIGTERM stops all and exits 0", async () => {
  const { dir, configPath } = await tempCluster(3);
  try {
    const { child, lines } = spawnSupervisor(DRIVER, [configPath]);
    await waitForLines(lines, /^\[g1-\d\] +fake g1-\d: listening on 127\.0\.0\.1:\d+$/, 3);
    assert.ok(lines.some((line) => /^REPLICA +COMMAND +GROUP +RAFT +STATUS +DATA$/.test(line)));
    assert.ok(
      lines.some((line) =>
        /^g1-2 +node +1 +127\.0\.0\.1:\d+ +http:\/\/127\.0\.0\.1:\d+\/status /.test(line)
      ),
    );
    for (const id of ["g1-1", "g1-2", "g1-3"]) {
      assert.ok((await Deno.stat(`${dir}/data/${id}`)).isDirectory);
    }
    child.signal("SIGTERM");
    const exit = await child.exited;
    assert.equal(exit.code, 0, lines.join("\n"));
    assert.ok(lines.includes("[local] received SIGTERM: stopping"));
    for (const id of ["g1-1", "g1-2", "g1-3"]) {
      assert.ok(
        lines.some((line) => new RegExp(`^\\[${id}\\] +fake ${id}: SIGTERM, exiting$`).test(line)),
      );
      assert.ok(lines.some((line) => line.endsWith(`${id} stopped (exit code 0)`)));
    }
    await assertGone(childPids(lines));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local: SIGINT stops a child that ignores SIGTERM with SIGKILL after the grace period", async () => {
  const { dir, configPath } = await tempCluster(2);
  try {
    const { child, lines } = spawnSupervisor(DRIVER, [configPath], {
      SHARDKV_FAKE_IGNORE_SIGTERM: "1",
      SHARDKV_LOCAL_TEST_GRACE_MS: "300",
    });
    await waitForLines(lines, /fake g1-\d: listening on/, 2);
    child.signal("SIGINT");
    const exit = await child.exited;
    assert.equal(exit.code, 0, lines.join("\n"));
    assert.ok(lines.includes("[local] received SIGINT: stopping"));
    assert.ok(
      lines.some((line) => /ERROR: g1-1 did not exit within 0\.3 s: sending SIGKILL/.test(line)),
    );
    assert.ok(lines.some((line) => line.endsWith("g1-2 stopped (signal SIGKILL)")));
    await assertGone(childPids(lines));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local: a child that exits is reported loudly and restarted after the backoff", async () => {
  const { dir, configPath } = await tempCluster(2);
  try {
    const { child, lines } = spawnSupervisor(DRIVER, [configPath], {
      SHARDKV_FAKE_FAIL_FIRST_START: "1",
      SHARDKV_LOCAL_TEST_RESTART_MS: "100",
    });
    await waitForLines(lines, /fake g1-\d: listening on/, 2);
    for (const id of ["g1-1", "g1-2"]) {
      const loud = new RegExp(
        `^\\[local\\] +ERROR: ${id} exited unexpectedly with exit code 3 after [\\d.]+ s; ` +
          "restarting it in 0\\.1 s \\(1 failure in a row\\)$",
      );
      assert.ok(lines.some((line) => loud.test(line)), lines.join("\n"));
      assert.ok(lines.some((line) => line.endsWith(`fake ${id}: failing on the first start`)));
    }
    assert.equal(childPids(lines).length, 4);
    child.signal("SIGTERM");
    assert.equal((await child.exited).code, 0);
    await assertGone(childPids(lines));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local: with --no-restart, once every child has exited it exits 1", async () => {
  const { dir, configPath } = await tempCluster(2);
  try {
    const { child, lines } = spawnSupervisor(DRIVER, [configPath, "--no-restart"], {
      SHARDKV_FAKE_FAIL_IDS: "g1-1,g1-2",
    });
    const exit = await child.exited;
    assert.equal(exit.code, 1, lines.join("\n"));
    assert.ok(
      lines.some((line) =>
        /g1-1 exited unexpectedly with exit code 3 .*not restarting it \(--no-restart\)/.test(line)
      ),
    );
    assert.ok(lines.includes("local_with_fake: allExited"));
    await assertGone(childPids(lines));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local: in process, the abort signal stops it; a data dir that cannot be made fails it", async () => {
  const { dir, configPath } = await tempCluster(1);
  try {
    const parsed = parseConfig(await Deno.readTextFile(configPath));
    assert.ok(parsed.ok);
    let output = "";
    const io = {
      stdout: (text: string) => void (output += text),
      stderr: (text: string) => void (output += text),
    };
    const abort = new AbortController();
    const running = superviseLocal({
      config: parsed.config,
      configPath,
      restart: true,
      io,
      program: FAKE,
      abort: abort.signal,
    });
    const deadline = Date.now() + 20_000;
    while (!output.includes("listening on") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    abort.abort();
    assert.deepEqual(await running, { kind: "stopped", reason: "aborted" });
    assert.match(output, /\[g1-1\] +fake g1-1: SIGTERM, exiting\n/);

    await Deno.writeTextFile(`${dir}/file`, "");
    const blocked = {
      ...parsed.config,
      storage: { ...parsed.config.storage, dataDir: `${dir}/file/data` },
    };
    const failed = await superviseLocal({
      config: blocked,
      configPath,
      restart: true,
      io,
      program: FAKE,
    });
    assert.equal(failed.kind, "failed");
    assert.match(
      failed.kind === "failed" ? failed.message : "",
      /cannot create the data directory .*file\/data\/g1-1 of g1-1/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local: the real `main.ts local --no-restart` exits 1 over stub nodes, or runs until SIGINT", async () => {
  const { dir, configPath } = await tempCluster(3);
  try {
    const { child, lines } = spawnSupervisor(SHARDKV, [
      "local",
      "--config",
      configPath,
      "--no-restart",
    ]);
    await waitForLines(lines, /^\[local\] +started g1-\d \(pid \d+\)$/, 3);
    const deadline = Date.now() + 3_000;
    while (child.running && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (child.running) {
      // `node` runs: the cluster stays up until Ctrl-C, which stops it cleanly.
      child.signal("SIGINT");
      assert.equal((await child.exited).code, 0, lines.join("\n"));
    } else {
      const output = lines.join("\n");
      assert.match(output, /\[g1-1\] +shardkv node: not implemented yet/);
      assert.equal(child.exit?.code, 1, output);
      assert.match(
        output,
        /shardkv local: every process has exited and --no-restart is set \(g1-1: exit code 1, g1-2: exit code 1, g1-3: exit code 1\)/,
      );
    }
    await assertGone(childPids(lines));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
