/**
 * `deno task compile [--target TRIPLE]`: builds the single shardkv executable with
 * `deno compile -A --output target/shardkv[-TRIPLE] main.ts`.
 *
 * deno compile embeds the program in a `denort` runtime binary that it normally downloads.
 * Where that download is impossible (an offline build machine), set DENORT_BIN to the path
 * of a local denort of the same Deno version; this script passes it to deno compile.
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: { target: { type: "string" }, help: { type: "boolean", short: "h" } },
  strict: true,
});
if (values.help === true) {
  console.log(
    "Usage: deno task compile [--target TRIPLE]\n\n" +
      "Builds target/shardkv (or target/shardkv-TRIPLE) from main.ts with deno compile.\n" +
      "Set DENORT_BIN=/path/to/denort to use a local denort instead of downloading one.",
  );
  Deno.exit(0);
}

const root = new URL("../", import.meta.url).pathname;
const output = values.target === undefined ? "target/shardkv" : `target/shardkv-${values.target}`;
const args = ["compile", "-A", "--output", output];
if (values.target !== undefined) args.push("--target", values.target);
args.push("main.ts");

const env: Record<string, string> = {};
const denortBin = Deno.env.get("DENORT_BIN");
if (denortBin !== undefined && denortBin !== "") {
  env.DENORT_BIN = denortBin;
  console.error(`compile: using the local denort from DENORT_BIN=${denortBin}`);
}

console.error(`compile: deno ${args.join(" ")}`);
const status = await new Deno.Command(Deno.execPath(), {
  args,
  cwd: root,
  env,
  stdin: "null",
  stdout: "inherit",
  stderr: "inherit",
}).spawn().status;

if (!status.success) {
  const hint = denortBin === undefined || denortBin === ""
    ? "deno compile downloads a denort runtime binary; without network access, set " +
      "DENORT_BIN to a local denort of the same Deno version and run again."
    : `check that DENORT_BIN=${denortBin} is a denort binary of this Deno version ` +
      `(${Deno.version.deno}).`;
  console.error(`compile: FAILED (deno compile exited ${status.code}). ${hint}`);
  Deno.exit(status.code === 0 ? 1 : status.code);
}
console.error(`compile: built ${output}`);
