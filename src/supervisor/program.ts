/**
 * What to run for each process of a config, and how to run this program again. Shared by
 * the `local` supervisor and the e2e harness (tests/e2e/harness.ts); pure apart from the
 * defaults of {@link currentProgram}.
 *
 * How shardkv starts itself again:
 * - under `deno run` (and `deno test`), `Deno.execPath()` is the deno executable, so a
 *   child is `deno run -A <main.ts> <command> …`. main.ts is found next to this module
 *   (`../../main.ts`), not through `Deno.mainModule`, which is the test file under
 *   `deno test`. Deno finds deno.json (the import map) by walking up from main.ts, so the
 *   child resolves its imports whatever its working directory.
 * - in a `deno compile`d binary (`Deno.build.standalone`), `Deno.execPath()` is the binary
 *   itself and main.ts is embedded in it, so a child is `<binary> <command> …`.
 */

import { fileURLToPath } from "node:url";
import { type Address, type Config, formatAddress, replicaDataDir } from "../config/mod.ts";
import { assert } from "../util/assert.ts";

/** An executable and the arguments that come before the shardkv command. */
export interface ProgramInvocation {
  readonly executable: string;
  readonly leadingArgs: readonly string[];
}

/** main.ts, the program's entry point, located from this module. */
export const MAIN_MODULE_URL: URL = new URL("../../main.ts", import.meta.url);

/** What {@link currentProgram} needs to know about the running process. */
export interface RunningProcess {
  /** `Deno.build.standalone`: true inside a `deno compile`d binary. */
  readonly standalone: boolean;
  /** `Deno.execPath()`. */
  readonly execPath: string;
  /** Where main.ts is (a file: URL, or http(s): when run from a URL). */
  readonly mainModule: URL;
}

/** How to run this program again as a child process (see the module comment). */
export function currentProgram(
  running: RunningProcess = {
    standalone: Deno.build.standalone,
    execPath: Deno.execPath(),
    mainModule: MAIN_MODULE_URL,
  },
): ProgramInvocation {
  if (running.standalone) return { executable: running.execPath, leadingArgs: [] };
  return denoRunProgram(running.mainModule, running.execPath);
}

/** `deno run -A <script>`: `script` as a path when it is a file: URL. */
export function denoRunProgram(script: URL, denoExecutable: string): ProgramInvocation {
  const location = script.protocol === "file:" ? fileURLToPath(script) : script.href;
  return { executable: denoExecutable, leadingArgs: ["run", "-A", location] };
}

/** The full argument list of `program` running the shardkv command `commandArgs`. */
export function programArgs(
  program: ProgramInvocation,
  commandArgs: readonly string[],
): string[] {
  return [...program.leadingArgs, ...commandArgs];
}

/** The subcommand a replica runs. */
export type ProcessRole = "node" | "shardmaster";

/** One process of a cluster: a replica of a group or of the shard master. */
export interface ProcessSpec {
  readonly id: string;
  readonly role: ProcessRole;
  /** The replica group; undefined for the shard master. */
  readonly gid: number | undefined;
  readonly raft: Address;
  readonly admin: Address;
  /** `<storage.data_dir>/<id>`. */
  readonly dataDir: string;
}

/** Every process the config describes: shard master replicas first, then each group's. */
export function clusterProcesses(config: Config): ProcessSpec[] {
  const processes: ProcessSpec[] = [];
  for (const replica of config.shardmaster?.replicas ?? []) {
    const dataDir = replicaDataDir(config, replica.id);
    processes.push({ ...replica, role: "shardmaster", gid: undefined, dataDir });
  }
  for (const group of config.groups) {
    for (const replica of group.replicas) {
      const dataDir = replicaDataDir(config, replica.id);
      processes.push({ ...replica, role: "node", gid: group.gid, dataDir });
    }
  }
  const ids = new Set(processes.map((process) => process.id));
  assert(ids.size === processes.length, "replica ids are unique (the config validator checks)");
  return processes;
}

/** The shardkv command line of one replica: `node --config FILE --id ID [--log-format F]`. */
export function replicaCommandArgs(
  role: ProcessRole,
  configPath: string,
  id: string,
  logFormat?: "text" | "json",
): string[] {
  assert(configPath !== "" && id !== "", "a replica command needs a config path and an id");
  const args = [role, "--config", configPath, "--id", id];
  return logFormat === undefined ? args : [...args, "--log-format", logFormat];
}

/**
 * The URL of `path` on an admin endpoint. A wildcard listen address (0.0.0.0, ::) is
 * reached on loopback.
 */
export function adminUrl(admin: Address, path = "/status"): string {
  assert(path.startsWith("/"), `an admin path starts with "/": ${path}`);
  const host = admin.host === "0.0.0.0" ? "127.0.0.1" : admin.host === "::" ? "::1" : admin.host;
  return `http://${formatAddress({ host, port: admin.port })}${path}`;
}
