/**
 * What `shardkv clerk` does once its arguments are checked: one operation (the value is
 * printed for a get, an empty line when the key is missing; writes print nothing), or with
 * --stdin one JSON operation per input line and one JSON result per output line:
 *
 *   in:  {"op":"put","key":"k","value":"v"}   {"op":"get","key":"k","id":7}
 *   out: {"ok":true}                         {"ok":true,"value":"v","id":7}
 *   err: {"ok":false,"error":"timeout","message":"...","outcome":"unknown"}
 *
 * One Clerk (one session) serves the whole input, so writes keep their exactly-once
 * guarantee across lines. Operations run one at a time, in input order.
 */

import type { Config } from "../config/mod.ts";
import { KvRequestError, type SessionKvClient, TimeoutError } from "../kv/clerk.ts";
import { clerkForConfig, shardMasterClerkForConfig } from "../kv/connect.ts";
import { assertNever } from "../util/assert.ts";
import { type ClerkOperation, parseOperation } from "./clerk_operation.ts";
import { MasterRequestError } from "../shard/master_clerk.ts";
import { configToJson } from "../shard/shard_config.ts";
import { joinGroups } from "../shard/join_groups.ts";
import type { CliIo } from "./io.ts";

/** A failed operation as the CLI reports it. */
interface Failure {
  readonly error: string;
  readonly message: string;
  readonly outcome?: "unknown";
}

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
  const options = { timeoutMs };
  try {
    switch (operation.type) {
      case "join": {
        const groups = joinGroups(config, { gids: [...operation.gids] });
        if (typeof groups === "string") {
          io.stderr(`shardkv clerk: join failed: ${groups}\n`);
          return 1;
        }
        await clerk.join(groups, options);
        return 0;
      }
      case "leave":
        await clerk.leave(operation.gids, options);
        return 0;
      case "move":
        await clerk.move(operation.shard, operation.gid, options);
        return 0;
      case "query":
        io.stdout(
          JSON.stringify(configToJson(await clerk.query(operation.num ?? -1, options))) + "\n",
        );
        return 0;
      default:
        return assertNever(operation, "shard master operation");
    }
  } catch (error) {
    if (error instanceof TimeoutError) {
      io.stderr(
        `shardkv clerk: ${operation.type} failed: no answer within ${timeoutMs} ms; the outcome is unknown\n`,
      );
      return 1;
    }
    if (error instanceof MasterRequestError) {
      io.stderr(`shardkv clerk: ${operation.type} failed: ${error.code}: ${error.message}\n`);
      return 1;
    }
    throw error;
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
  let failures = 0;
  try {
    for await (const line of lines(input)) {
      if (line.trim() === "") continue;
      const parsed = parseJsonOperation(line);
      let output: Record<string, unknown>;
      if (!parsed.ok) {
        output = { ok: false, error: "badRequest", message: parsed.message };
      } else {
        const result = await execute(clerk, parsed.operation, timeoutMs);
        output = "error" in result ? { ok: false, ...result } : { ok: true, ...result };
        if (parsed.id !== undefined) output.id = parsed.id;
      }
      if (output.ok !== true) failures++;
      io.stdout(JSON.stringify(output) + "\n");
    }
  } finally {
    await clerk.close();
  }
  return failures === 0 ? 0 : 1;
}

async function execute(
  clerk: SessionKvClient,
  operation: ClerkOperation,
  timeoutMs: number,
): Promise<{ value?: string } | Failure> {
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
      case "join":
      case "leave":
      case "move":
      case "query":
        return {
          error: "notImplemented",
          message:
            `${operation.type} needs the shard master, which is not implemented yet (tracked in the sharding issue)`,
        };
      default:
        return assertNever(operation, "clerk operation");
    }
  } catch (error) {
    if (error instanceof TimeoutError) {
      return {
        error: "timeout",
        message: `no answer within ${timeoutMs} ms; the outcome is unknown`,
        outcome: "unknown",
      };
    }
    if (error instanceof KvRequestError) return { error: error.code, message: error.message };
    throw error;
  }
}

/** Parses `{"op": ..., "key": ..., "value": ..., "id": ...}`. */
function parseJsonOperation(
  line: string,
): { ok: true; operation: ClerkOperation; id?: unknown } | { ok: false; message: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return {
      ok: false,
      message: `not JSON: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, message: "each line must be a JSON object" };
  }
  const fields = value as Record<string, unknown>;
  const words: string[] = [String(fields.op ?? "")];
  for (const name of ["key", "value"] as const) {
    if (fields[name] === undefined) continue;
    if (typeof fields[name] !== "string") {
      return { ok: false, message: `"${name}" must be a string` };
    }
    words.push(fields[name] as string);
  }
  const parsed = parseOperation(words);
  if (!parsed.ok) return parsed;
  return fields.id === undefined
    ? { ok: true, operation: parsed.operation }
    : { ok: true, operation: parsed.operation, id: fields.id };
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
