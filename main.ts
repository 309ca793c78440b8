/**
 * The shardkv program: `deno run -A main.ts <command>` or the `deno compile`d binary.
 * The composition root; the only module that reads Deno.args and calls Deno.exit.
 *
 * @module
 */

import { main } from "./src/cli/commands.ts";
import { consoleIo } from "./src/cli/io.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args, consoleIo()));
}
