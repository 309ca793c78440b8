/**
 * The operations of `shardkv clerk`, parsed from command-line words (or, with --stdin, from
 * the words of one input line). Parsing checks the grammar and number syntax only; checks
 * against the config (shard range, a [shardmaster] section) are in {@link checkOperation}.
 */

import type { Config } from "../config/mod.ts";
import { assertNever } from "../util/assert.ts";

/** One clerk operation. */
export type ClerkOperation =
  | { readonly type: "get"; readonly key: string }
  | { readonly type: "put"; readonly key: string; readonly value: string }
  | { readonly type: "append"; readonly key: string; readonly value: string }
  | { readonly type: "delete"; readonly key: string }
  | { readonly type: "join"; readonly gids: readonly number[] }
  | { readonly type: "leave"; readonly gids: readonly number[] }
  | { readonly type: "move"; readonly shard: number; readonly gid: number }
  | { readonly type: "query"; readonly num: number | undefined };

/** The outcome of parsing or checking an operation. */
export type OperationResult =
  | { readonly ok: true; readonly operation: ClerkOperation }
  | { readonly ok: false; readonly message: string };

const GRAMMAR = {
  get: "get KEY",
  put: "put KEY VALUE",
  append: "append KEY VALUE",
  delete: "delete KEY",
  join: "join GID...",
  leave: "leave GID...",
  move: "move SHARD GID",
  query: "query [NUM]",
} satisfies Record<ClerkOperation["type"], string>;

/** Parses `words` (the operation name, then its arguments). */
export function parseOperation(words: readonly string[]): OperationResult {
  const [name, ...rest] = words;
  if (name === undefined) {
    return { ok: false, message: "an operation is required (get, put, append, delete, ...)" };
  }
  if (!isOperationName(name)) {
    const known = Object.keys(GRAMMAR).join(", ");
    return { ok: false, message: `unknown operation "${name}" (known: ${known})` };
  }
  const fail = (): OperationResult => ({
    ok: false,
    message: `${name}: expected "${GRAMMAR[name]}", got ${rest.length} argument(s)`,
  });
  const [first, second] = rest;
  switch (name) {
    case "get":
    case "delete":
      return first === undefined || rest.length !== 1 ? fail() : ok({ type: name, key: first });
    case "put":
    case "append":
      return first === undefined || second === undefined || rest.length !== 2
        ? fail()
        : ok({ type: name, key: first, value: second });
    case "join":
    case "leave": {
      if (rest.length === 0) return fail();
      const gids: number[] = [];
      for (const word of rest) {
        const gid = parseNatural(word);
        if (gid === undefined || gid === 0) return numberProblem(name, "GID", word, "positive");
        gids.push(gid);
      }
      return ok({ type: name, gids });
    }
    case "move": {
      if (first === undefined || second === undefined || rest.length !== 2) return fail();
      const shard = parseNatural(first);
      if (shard === undefined) return numberProblem(name, "SHARD", first, "non-negative");
      const gid = parseNatural(second);
      if (gid === undefined || gid === 0) return numberProblem(name, "GID", second, "positive");
      return ok({ type: name, shard, gid });
    }
    case "query": {
      if (rest.length > 1) return fail();
      if (first === undefined) return ok({ type: name, num: undefined });
      const num = parseNatural(first);
      if (num === undefined) return numberProblem(name, "NUM", first, "non-negative");
      return ok({ type: name, num });
    }
    default:
      return assertNever(name, "clerk operation");
  }
}

/** Checks an operation against the config: shard-master operations need [shardmaster]. */
export function checkOperation(operation: ClerkOperation, config: Config): OperationResult {
  switch (operation.type) {
    case "get":
    case "put":
    case "append":
    case "delete":
      return ok(operation);
    case "join":
    case "leave":
    case "move":
    case "query":
      if (config.shardmaster === undefined) {
        return {
          ok: false,
          message: `${operation.type}: the configuration has no [shardmaster] section`,
        };
      }
      if (operation.type === "move" && operation.shard >= config.cluster.shards) {
        return {
          ok: false,
          message: `move: shard ${operation.shard} does not exist (cluster.shards = ` +
            `${config.cluster.shards}, so shards are 0..${config.cluster.shards - 1})`,
        };
      }
      return ok(operation);
    default:
      return assertNever(operation, "clerk operation");
  }
}

function ok(operation: ClerkOperation): OperationResult {
  return { ok: true, operation };
}

function isOperationName(name: string): name is ClerkOperation["type"] {
  return Object.hasOwn(GRAMMAR, name);
}

/** A decimal integer in 0..2^31-1, or undefined. */
function parseNatural(word: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(word)) return undefined;
  const value = Number(word);
  return value <= 2 ** 31 - 1 ? value : undefined;
}

function numberProblem(name: string, what: string, word: string, kind: string): OperationResult {
  return { ok: false, message: `${name}: ${what} must be a ${kind} integer, got "${word}"` };
}
