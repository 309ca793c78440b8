/**
 * What `shardkv clerk` does once its arguments are checked: one operation (the value is
 * printed for a get, an empty line when the key is missing, the config JSON for a query;
 * other operations print nothing), or with --stdin one JSON operation per input line (see
 * json_operation.ts) and one JSON result per output line:
 *
 *   in:  {"op":"put","key":"k","value":"v"}   {"op":"get","key":"k","id":7}
 *   out: {"ok":true}                         {"ok":true,"value":"v","id":7}
 *   in:  {"op":"join","gids":[1,2]}           {"op":"query"}
 *   out: {"ok":true,"num":1}                 {"ok":true,"config":{"num":1,"shards":[...],...}}
 *   err: {"ok":false,"error":"timeout","message":"...","outcome":"unknown"}
 *
 * One Clerk (one session) serves the whole input, so writes keep their exactly-once
 * guarantee across lines; a shard master clerk (its own session) is opened by the first
 * join / leave / move / query line. Operations run one at a time, in input order.
 */

import type { Config } from "../config/mod.ts";
import { KvRequestError, type SessionKvClient, TimeoutError } from "../kv/clerk.ts";
import { clerkForConfig, shardMasterClerkForConfig } from "../kv/connect.ts";
import { assertNever } from "../util/assert.ts";
import { checkOperation, type ClerkOperation } from "./clerk_operation.ts";
import { MasterRequestError, type ShardMasterClerk } from "../shard/master_clerk.ts";
import { configToJson, type ShardConfigJson } from "../shard/shard_config.ts";
import { joinGroups } from "../shard/join_groups.ts";
import type { CliIo } from "./io.ts";
import { parseJsonOperation } from "./json_operation.ts";

/** A failed operation as the CLI reports it. */
interface Failure {
  readonly error: string;
  readonly message: string;
  readonly outcome?: "unknown";
}

/** What a key operation answered: a get's value, or nothing. */
type KvResult = { readonly value?: string } | Failure;

/** What a shard master operation answered: the config a change made, a queried config. */
type MasterResult = { readonly num: number } | { readonly config: ShardConfigJson } | Failure;

/** The operations the shard master serves. */
export type MasterOperation = Extract<
  ClerkOperation,
  { type: "join" | "leave" | "move" | "query" }
>;

/** True for join / leave / move / query. */
export function isMasterOperation(operation: ClerkOperation): operation is MasterOperation {
  return operation.type === "join" || operation.type === "leave" || operation.type === "move" ||
    operation.type === "query";
}

/**
 * Runs a shard master operation: `join GID...` (groups as the config file describes them),
 * `leave GID...`, `move SHARD GID` (exit 0, nothing printed), `query [NUM]` (the config as JSON:
 * {"num": N, "shards": [gid, ...], "groups": {"gid": ["replica-id", ...]}}).
 */
export async function runMasterOperation(
  config: Config,
  operation: MasterOperation,
  timeoutMs: number,
  io: CliIo,
): Promise<number> {
  // The command line refuses master operations on a config without [shardmaster] before here.
  const clerk = shardMasterClerkForConfig(config);
  try {
    const result = await executeMaster(config, clerk, operation, timeoutMs);
    if ("error" in result) {
      // A refusal reads "code: message" (lastGroup: ...); a timeout, only its message.
      const reason = result.outcome === "unknown"
        ? result.message
        : `${result.error}: ${result.message}`;
      io.stderr(`shardkv clerk: ${operation.type} failed: ${reason}\n`);
      return 1;
    }
    if ("config" in result) io.stdout(JSON.stringify(result.config) + "\n");
    return 0;
  } finally {
    await clerk.close();
  }
}

/** Runs one operation; the exit code is 0 on success, 1 on failure (the reason on stderr). */
export async function runOneOperation(
  config: Config,
  operation: ClerkOperation,
  timeoutMs: number,
  io: CliIo,
): Promise<number> {
  if (isMasterOperation(operation)) {
    return await runMasterOperation(config, operation, timeoutMs, io);
  }
  const clerk = clerkForConfig(config);
  try {
    const result = await execute(clerk, operation, timeoutMs);
    if ("error" in result) {
      io.stderr(`shardkv clerk: ${operation.type} failed: ${result.message}\n`);
      return 1;
    }
    if (result.value !== undefined) io.stdout(result.value + "\n");
    return 0;
  } finally {
    await clerk.close();
  }
}

/** Runs one JSON operation per line of `input`; returns 0 when every line succeeded, else 1. */
export async function runStdinOperations(
  config: Config,
  input: ReadableStream<Uint8Array>,
  timeoutMs: number,
  io: CliIo,
): Promise<number> {
  const clerk = clerkForConfig(config);
  let master: ShardMasterClerk | undefined;
  // Opened by the first master operation only: a run of key operations never dials the master.
  const masterClerk = (): ShardMasterClerk => master ??= shardMasterClerkForConfig(config);
  let failures = 0;
  try {
    for await (const line of lines(input)) {
      if (line.trim() === "") continue;
      const parsed = parseJsonOperation(line);
      let output: Record<string, unknown>;
      if (!parsed.ok) {
        output = { ok: false, error: "badRequest", message: parsed.message };
      } else {
        const result = await executeLine(config, clerk, masterClerk, parsed.operation, timeoutMs);
        output = "error" in result ? { ok: false, ...result } : { ok: true, ...result };
        if (parsed.id !== undefined) output.id = parsed.id;
      }
      if (output.ok !== true) failures++;
      io.stdout(JSON.stringify(output) + "\n");
    }
  } finally {
    await clerk.close();
    await master?.close();
  }
  return failures === 0 ? 0 : 1;
}

/** One --stdin operation: checked against the config, then sent to the groups or the master. */
async function executeLine(
  config: Config,
  clerk: SessionKvClient,
  masterClerk: () => ShardMasterClerk,
  operation: ClerkOperation,
  timeoutMs: number,
): Promise<KvResult | MasterResult> {
  if (!isMasterOperation(operation)) return await execute(clerk, operation, timeoutMs);
  if (config.shardmaster === undefined) {
    return {
      error: "notSharded",
      message: `${operation.type} needs the shard master, but the configuration has no ` +
        "[shardmaster] section (it is a single replica group, which needs none)",
    };
  }
  // Refused before it is sent (a shard out of range), with the code of a malformed line.
  const checked = checkOperation(operation, config);
  if (!checked.ok) return { error: "badRequest", message: checked.message };
  return await executeMaster(config, masterClerk(), operation, timeoutMs);
}

async function execute(
  clerk: SessionKvClient,
  operation: Exclude<ClerkOperation, MasterOperation>,
  timeoutMs: number,
): Promise<KvResult> {
  const options = { timeoutMs };
  try {
    switch (operation.type) {
      case "get":
        return { value: await clerk.get(operation.key, options) };
      case "put":
        await clerk.put(operation.key, operation.value, options);
        return {};
      case "append":
        await clerk.append(operation.key, operation.value, options);
        return {};
      case "delete":
        await clerk.delete(operation.key, options);
        return {};
      default:
        return assertNever(operation, "clerk operation");
    }
  } catch (error) {
    if (error instanceof TimeoutError) return timeoutFailure(timeoutMs);
    if (error instanceof KvRequestError) return { error: error.code, message: error.message };
    throw error;
  }
}

/**
 * Runs a master operation: join (groups named by gid, described by the config file), leave
 * and move answer the number of the config they made; query answers the config.
 */
async function executeMaster(
  config: Config,
  clerk: ShardMasterClerk,
  operation: MasterOperation,
  timeoutMs: number,
): Promise<MasterResult> {
  const options = { timeoutMs };
  try {
    switch (operation.type) {
      case "join": {
        const groups = joinGroups(config, { gids: [...operation.gids] });
        // A gid the config file does not describe: refused before it is sent.
        if (typeof groups === "string") return { error: "badRequest", message: groups };
        return { num: await clerk.join(groups, options) };
      }
      case "leave":
        return { num: await clerk.leave(operation.gids, options) };
      case "move":
        return { num: await clerk.move(operation.shard, operation.gid, options) };
      case "query":
        return { config: configToJson(await clerk.query(operation.num ?? -1, options)) };
      default:
        return assertNever(operation, "shard master operation");
    }
  } catch (error) {
    if (error instanceof TimeoutError) return timeoutFailure(timeoutMs);
    if (error instanceof MasterRequestError) return { error: error.code, message: error.message };
    throw error;
  }
}

function timeoutFailure(timeoutMs: number): Failure {
  return {
    error: "timeout",
    message: `no answer within ${timeoutMs} ms; the outcome is unknown`,
    outcome: "unknown",
  };
}

async function* lines(input: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of input.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
  if (buffered !== "") yield buffered;
}
