/**
 * ManagedChild on real (tiny) `deno eval` children: every line arrives whole, stdin is
 * delivered, SIGTERM escalates to SIGKILL after the grace period, and nothing outlives the
 * child (Deno's sanitizers would fail these tests otherwise).
 */

import assert from "node:assert/strict";
import { describeExit, ManagedChild, type OutputStream } from "./child_process.ts";

const DENO_EVAL = { executable: Deno.execPath(), leadingArgs: ["eval"] } as const;

function spawnEval(code: string, stdin?: string) {
  const lines: [OutputStream, string][] = [];
  const child = ManagedChild.spawn({
    program: DENO_EVAL,
    commandArgs: [code],
    onLine: (stream, line) => lines.push([stream, line]),
    ...(stdin === undefined ? {} : { stdin }),
  });
  return { child, lines };
}

Deno.test("supervisor child: output lines arrive whole, tagged by stream, the last unterminated", async () => {
  const { child, lines } = spawnEval(`
    const e = new TextEncoder();
    Deno.stdout.writeSync(e.encode("par"));
    await new Promise((r) => setTimeout(r, 30));
    Deno.stdout.writeSync(e.encode("tial\\nsecond\\nno newline"));
    Deno.stderr.writeSync(e.encode("oops\\n"));
    Deno.exit(4);
  `);
  assert.equal(child.running, true);
  const exit = await child.exited;
  assert.deepEqual(exit, { code: 4, signal: null, success: false });
  assert.equal(describeExit(exit), "exit code 4");
  assert.equal(child.running, false);
  assert.deepEqual(lines.filter(([stream]) => stream === "stdout").map(([, line]) => line), [
    "partial",
    "second",
    "no newline",
  ]);
  assert.deepEqual(lines.filter(([stream]) => stream === "stderr"), [["stderr", "oops"]]);
  assert.equal(child.signal("SIGTERM"), false, "no signal to a child that is gone");
});

Deno.test("supervisor child: stdin is written and closed", async () => {
  const { child, lines } = spawnEval(
    `const text = await new Response(Deno.stdin.readable).text(); console.log(text.toUpperCase());`,
    "hello\nworld",
  );
  assert.equal((await child.exited).code, 0);
  assert.deepEqual(lines, [["stdout", "HELLO"], ["stdout", "WORLD"]]);
});

Deno.test("supervisor child: stop() sends SIGTERM, and SIGKILL to a child that ignores it", async () => {
  const code = `
    Deno.addSignalListener("SIGTERM", () => console.log("ignoring SIGTERM"));
    console.log("ready");
    setInterval(() => {}, 1000);
  `;
  const { child, lines } = spawnEval(code);
  while (lines.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  let escalated = false;
  const exit = await child.stop(300, () => (escalated = true));
  assert.equal(escalated, true);
  assert.equal(exit.signal, "SIGKILL");
  assert.equal(describeExit(exit), "signal SIGKILL");
  assert.deepEqual(lines, [["stdout", "ready"], ["stdout", "ignoring SIGTERM"]]);
});

Deno.test("supervisor child: a child that obeys SIGTERM is not killed", async () => {
  const { child } = spawnEval(`console.log("up"); setInterval(() => {}, 1000);`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  let escalated = false;
  const exit = await child.stop(5_000, () => (escalated = true));
  assert.equal(escalated, false);
  assert.equal(exit.signal, "SIGTERM");
  assert.deepEqual(await child.kill(), exit, "kill() after the exit returns the same exit");
});

Deno.test("supervisor child: a missing executable fails at spawn", () => {
  assert.throws(
    () =>
      ManagedChild.spawn({
        program: { executable: "/nonexistent/shardkv", leadingArgs: [] },
        commandArgs: ["node"],
        onLine: () => {},
      }),
    Deno.errors.NotFound,
  );
});
