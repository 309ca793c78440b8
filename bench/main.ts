/**
 * `deno task bench`: throughput and latency of real code on this machine, printed as tables
 * (and one JSON line per row). Never part of `deno task ok`: timings are measured, not asserted.
 *
 *   deno task bench [--section=storage,transport,kv,sharded] [--scale=1] [--cpu-prof-dir=DIR]
 */

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { type BenchTable, kvSection } from "./kv_bench.ts";
import { shardedSection } from "./sharded_bench.ts";
import { storageSection } from "./storage_bench.ts";
import { printTable } from "./table.ts";
import { transportSection } from "./transport_section.ts";

const SECTIONS = ["storage", "transport", "kv", "sharded"] as const;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    section: { type: "string", default: SECTIONS.join(",") },
    scale: { type: "string", default: "1" },
    "cpu-prof-dir": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    `Usage: deno task bench [--section=${
      SECTIONS.join(",")
    }] [--scale=N] [--cpu-prof-dir=DIR]\n\n` +
      `  --scale         multiplies the work per phase (default 1; 0.1 for a quick look)\n` +
      `  --cpu-prof-dir  kv: run the replicas under --cpu-prof, writing their profiles to DIR`,
  );
  Deno.exit(0);
}
const scale = Number(values.scale);
if (!(scale > 0)) {
  console.error(`bench: --scale must be a positive number, got ${values.scale}`);
  Deno.exit(2);
}
const wanted = new Set(values.section.split(",").map((name) => name.trim()));
for (const name of wanted) {
  if (!(SECTIONS as readonly string[]).includes(name)) {
    console.error(`bench: unknown section "${name}" (known: ${SECTIONS.join(", ")})`);
    Deno.exit(2);
  }
}
console.log(
  `shardkv bench on ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`,
);
if (wanted.has("storage")) {
  printTable("storage: WAL appends with fdatasync (group commit)", await storageSection(scale));
}
if (wanted.has("transport")) {
  printTable(
    "transport: loopback TCP, one connection (src/net/bench.ts)",
    await transportSection(),
  );
}
if (wanted.has("kv")) {
  await runProcessSection((signal) => {
    const profileDir = values["cpu-prof-dir"];
    return kvSection({
      scale,
      signal,
      say: (line) => console.error(line),
      ...(profileDir === undefined ? {} : { cpuProfileDir: resolve(profileDir) }),
    });
  });
}
if (wanted.has("sharded")) {
  await runProcessSection((signal) =>
    shardedSection({ scale, signal, say: (line) => console.error(line) })
  );
}

/**
 * The kv and sharded sections start replica processes: a signal (Ctrl-C, SIGTERM, a closed
 * terminal) aborts them instead of ending this process at once, so that they are killed and
 * their temp dirs removed before we exit.
 */
async function runProcessSection(
  section: (signal: AbortSignal) => Promise<BenchTable[]>,
): Promise<void> {
  const interrupt = new AbortController();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const onSignal = () => interrupt.abort(new Error("interrupted by a signal"));
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  try {
    const tables = await section(interrupt.signal);
    for (const table of tables) printTable(table.title, table.rows, console.log, table.about);
  } catch (error) {
    if (!interrupt.signal.aborted) throw error;
    console.error("bench: interrupted; every replica process was stopped");
    Deno.exit(130);
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  }
}
