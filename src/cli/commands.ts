/**
 * The shardkv command line: dispatch to a subcommand, flag parsing (node:util parseArgs,
 * strict), config loading. `main` returns the exit code and writes only through a
 * {@link CliIo}; main.ts alone reads Deno.args and calls Deno.exit.
 *
 * Exit codes: 0 success, 1 failure, 2 bad command line or invalid configuration.
 */

import {
  isMasterOperation,
  runMasterOperation,
  runOneOperation,
  runStdinOperations,
} from "./clerk_runtime.ts";
import {
  runNode as runReplicaNode,
  runShardMaster as runShardMasterProcess,
} from "../server/run_node.ts";
import { parseArgs } from "node:util";
import { type Config, findReplica, loadConfig, type LogFormat } from "../config/mod.ts";
import { joinGroupsOnStart } from "../supervisor/join_on_start.ts";
import { describeExit, superviseLocal } from "../supervisor/mod.ts";
import { assertNever } from "../util/assert.ts";
import { VERSION } from "../version.ts";
import { checkOperation, parseOperation } from "./clerk_operation.ts";
import { runStatusCommand } from "./status_command.ts";
import type { CliIo } from "./io.ts";
import { COMMAND_NAMES, type CommandName, commandUsage, mainUsage } from "./usage.ts";

/** Exit code of a successful run. */
export const EXIT_OK = 0;
/** Exit code of a run that failed (or of a command that is not implemented yet). */
export const EXIT_FAILURE = 1;
/** Exit code of a bad command line or an invalid configuration. */
export const EXIT_USAGE = 2;

/** Longest accepted `--timeout-ms` (one hour). */
export const CLERK_TIMEOUT_MS_MAX = 3_600_000;
/** `--timeout-ms` when none is given. */
export const CLERK_TIMEOUT_MS_DEFAULT = 10_000;

/** Runs the shardkv command line `args` (without the program name); returns the exit code. */
export async function main(args: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(args, io);
  } catch (error) {
    if (!(error instanceof CommandExit)) throw error;
    io.stderr(error.message.endsWith("\n") ? error.message : `${error.message}\n`);
    return error.exitCode;
  }
}

async function dispatch(args: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined) {
    throw new CommandExit(EXIT_USAGE, `shardkv: a command is required\n\n${mainUsage()}`);
  }
  if (first === "help" || first === "--help" || first === "-h") return help(rest, io);
  if (first === "--version") {
    io.stdout(`shardkv ${VERSION}\n`);
    return EXIT_OK;
  }
  if (!isCommandName(first)) {
    const what = first.startsWith("-") ? `unknown flag "${first}"` : `unknown command "${first}"`;
    throw new CommandExit(EXIT_USAGE, `shardkv: ${what}\n\n${mainUsage()}`);
  }
  return await COMMANDS[first](rest, io);
}

function help(args: readonly string[], io: CliIo): number {
  const [topic, ...rest] = args;
  if (topic === undefined) {
    io.stdout(mainUsage());
    return EXIT_OK;
  }
  if (!isCommandName(topic) || rest.length > 0) {
    throw new CommandExit(EXIT_USAGE, `shardkv help: unknown command "${topic}"\n\n${mainUsage()}`);
  }
  io.stdout(commandUsage(topic));
  return EXIT_OK;
}

type CommandRunner = (args: readonly string[], io: CliIo) => Promise<number>;

const COMMANDS = {
  node: runNode,
  shardmaster: runShardMaster,
  clerk: runClerk,
  local: runLocal,
  status: runStatus,
} satisfies Record<CommandName, CommandRunner>;

async function runNode(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags("node", () =>
    parseArgs({
      args: [...args],
      options: {
        config: { type: "string" },
        id: { type: "string" },
        "log-format": { type: "string" },
        ...HELP_OPTION,
      },
      strict: true,
    }));
  if (values.help === true) return printUsage("node", io);
  const id = requireFlag("node", "id", "REPLICA", values.id);
  const logFormat = parseLogFormat("node", values["log-format"]);
  const loaded = await loadCommandConfig("node", values.config);
  const config = logFormat === undefined
    ? loaded
    : { ...loaded, log: { ...loaded.log, format: logFormat } };
  const location = findReplica(config, id);
  if (location?.kind !== "group") {
    throw replicaNotFound("node", id, values.config ?? "", config, "group");
  }
  return await runReplicaNode(config, id, io);
}

async function runShardMaster(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags("shardmaster", () =>
    parseArgs({
      args: [...args],
      options: {
        config: { type: "string" },
        id: { type: "string" },
        "log-format": { type: "string" },
        ...HELP_OPTION,
      },
      strict: true,
    }));
  if (values.help === true) return printUsage("shardmaster", io);
  const id = requireFlag("shardmaster", "id", "REPLICA", values.id);
  parseLogFormat("shardmaster", values["log-format"]);
  const config = await loadCommandConfig("shardmaster", values.config);
  if (config.shardmaster === undefined) {
    const message = `${values.config} has no [shardmaster] section: this cluster is a single ` +
      "replica group without a shard master";
    throw new CommandExit(EXIT_USAGE, `shardkv shardmaster: ${message}`);
  }
  if (findReplica(config, id)?.kind !== "shardmaster") {
    throw replicaNotFound("shardmaster", id, values.config ?? "", config, "shardmaster");
  }
  return await runShardMasterProcess(config, id, io);
}

async function runClerk(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags("clerk", () =>
    parseArgs({
      args: [...args],
      options: {
        config: { type: "string" },
        stdin: { type: "boolean" },
        "timeout-ms": { type: "string" },
        ...HELP_OPTION,
      },
      allowPositionals: true,
      strict: true,
    }));
  if (values.help === true) return printUsage("clerk", io);
  const timeoutMs = parseTimeoutMs(values["timeout-ms"]);
  const fromStdin = values.stdin === true;
  if (fromStdin && positionals.length > 0) {
    throw new UsageError(
      "clerk",
      "--stdin reads operations from standard input; do not also give one as arguments",
    );
  }
  const parsed = fromStdin ? undefined : parseOperation(positionals);
  if (parsed !== undefined && !parsed.ok) throw new UsageError("clerk", parsed.message);
  const config = await loadCommandConfig("clerk", values.config);
  const checked = parsed === undefined ? undefined : checkOperation(parsed.operation, config);
  if (checked !== undefined && !checked.ok) {
    throw new CommandExit(EXIT_USAGE, `shardkv clerk: ${checked.message}`);
  }
  if (checked !== undefined && isMasterOperation(checked.operation)) {
    return await runMasterOperation(config, checked.operation, timeoutMs, io);
  }
  if (checked === undefined) {
    return await runStdinOperations(config, Deno.stdin.readable, timeoutMs, io);
  }
  return await runOneOperation(config, checked.operation, timeoutMs, io);
}

/** `local`: supervise every process of the config on this host (src/supervisor). */
async function runLocal(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags("local", () =>
    parseArgs({
      args: [...args],
      options: { config: { type: "string" }, "no-restart": { type: "boolean" }, ...HELP_OPTION },
      strict: true,
    }));
  if (values.help === true) return printUsage("local", io);
  const config = await loadCommandConfig("local", values.config);
  const outcome = await superviseLocal({
    config,
    configPath: values.config ?? "",
    afterStart: (signal) =>
      joinGroupsOnStart(config, signal, (line) => io.stdout(`[local] ${line}\n`)),
    restart: values["no-restart"] !== true,
    io,
    // Children write into pipes, where "auto" would pick JSON; on a terminal, keep them readable.
    ...(Deno.stdout.isTerminal() ? { childLogFormat: "text" as const } : {}),
  });
  switch (outcome.kind) {
    case "stopped":
      return EXIT_OK;
    case "allExited": {
      const exits = [...outcome.exits].map(([id, exit]) =>
        `${id}: ${exit === undefined ? "could not be started" : describeExit(exit)}`
      );
      throw new CommandExit(
        EXIT_FAILURE,
        `shardkv local: every process has exited and --no-restart is set (${exits.join(", ")}); ` +
          "their output above says why",
      );
    }
    case "failed":
      throw new CommandExit(EXIT_FAILURE, `shardkv local: ${outcome.message}`);
    default:
      return assertNever(outcome, "local outcome");
  }
}

async function runStatus(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags("status", () =>
    parseArgs({
      args: [...args],
      options: { config: { type: "string" }, json: { type: "boolean" }, ...HELP_OPTION },
      strict: true,
    }));
  if (values.help === true) return printUsage("status", io);
  const config = await loadCommandConfig("status", values.config);
  return await runStatusCommand(config, { json: values.json === true }, io);
}

const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const;

/** Ends a command: `message` goes to stderr and `exitCode` is returned by {@link main}. */
class CommandExit extends Error {
  override readonly name: string = "CommandExit";
  readonly exitCode: number;

  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** A bad command line: the message, then the command's usage, and exit code 2. */
class UsageError extends CommandExit {
  override readonly name = "UsageError";

  constructor(command: CommandName, message: string) {
    super(EXIT_USAGE, `shardkv ${command}: ${message}\n\n${commandUsage(command)}`);
  }
}

/** Runs parseArgs and turns its errors (unknown flag, missing value) into a UsageError. */
function parseFlags<T>(command: CommandName, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
      throw new UsageError(command, (error as Error).message);
    }
    throw error;
  }
}

function requireFlag(
  command: CommandName,
  flag: string,
  placeholder: string,
  value: string | undefined,
): string {
  if (value === undefined || value === "") {
    throw new UsageError(command, `--${flag} ${placeholder} is required`);
  }
  return value;
}

async function loadCommandConfig(command: CommandName, path: string | undefined): Promise<Config> {
  const file = requireFlag(command, "config", "FILE", path);
  const result = await loadConfig(file);
  if (!result.ok) throw new CommandExit(EXIT_USAGE, `shardkv ${command}: ${result.error.message}`);
  return result.config;
}

/** Parses `--log-format`, which overrides the config's [log] format. */
function parseLogFormat(command: CommandName, text: string | undefined): LogFormat | undefined {
  if (text === undefined) return undefined;
  if (text === "auto" || text === "json" || text === "text") return text;
  throw new UsageError(command, `--log-format must be auto, json or text, got "${text}"`);
}

function parseTimeoutMs(text: string | undefined): number {
  if (text === undefined) return CLERK_TIMEOUT_MS_DEFAULT;
  const value = /^[0-9]{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= 1 && value <= CLERK_TIMEOUT_MS_MAX)) {
    throw new UsageError(
      "clerk",
      `--timeout-ms must be an integer in 1..${CLERK_TIMEOUT_MS_MAX}, got "${text}"`,
    );
  }
  return value;
}

function replicaNotFound(
  command: CommandName,
  id: string,
  file: string,
  config: Config,
  kind: "group" | "shardmaster",
): CommandExit {
  const ids = kind === "group"
    ? config.groups.flatMap((group) => group.replicas.map((replica) => replica.id))
    : (config.shardmaster?.replicas ?? []).map((replica) => replica.id);
  const where = kind === "group" ? "[[groups]]" : "[shardmaster]";
  const other = findReplica(config, id);
  const hint = other === undefined
    ? ""
    : `; it is a ${other.kind === "group" ? "group" : "shard master"} replica, run it with ` +
      `'shardkv ${other.kind === "group" ? "node" : "shardmaster"}'`;
  return new CommandExit(
    EXIT_USAGE,
    `shardkv ${command}: replica "${id}" is not in the ${where} of ${file}${hint} ` +
      `(known: ${ids.join(", ")})`,
  );
}

function printUsage(command: CommandName, io: CliIo): number {
  io.stdout(commandUsage(command));
  return EXIT_OK;
}

function isCommandName(name: string): name is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(name);
}
