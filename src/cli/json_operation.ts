/**
 * The input lines of `shardkv clerk --stdin`: one JSON object per line, `"op"` naming the
 * operation and one field per argument of its command-line form, plus an optional `"id"`
 * (any JSON value) that the result line echoes:
 *
 *   {"op":"get","key":"k"}            {"op":"put","key":"k","value":"v"}   (append alike)
 *   {"op":"delete","key":"k"}         {"op":"join","gids":[1,2]}   {"op":"leave","gids":[3]}
 *   {"op":"move","shard":4,"gid":3}   {"op":"query"}               {"op":"query","num":1}
 *
 * The fields become the words of the command line and {@link parseOperation} checks them, so
 * both forms accept exactly the same operations.
 */

import { assertNever } from "../util/assert.ts";
import { type ClerkOperation, parseOperation } from "./clerk_operation.ts";
import { errorMessage } from "../util/values.ts";

/** One parsed input line: the operation and its id, or why the line is not one. */
export type JsonOperationResult =
  | { readonly ok: true; readonly operation: ClerkOperation; readonly id?: unknown }
  | { readonly ok: false; readonly message: string };

/** The fields of each operation, in the order of its command-line arguments. */
const FIELDS = {
  get: ["key"],
  put: ["key", "value"],
  append: ["key", "value"],
  delete: ["key"],
  join: ["gids"],
  leave: ["gids"],
  move: ["shard", "gid"],
  query: ["num"],
} as const satisfies Record<ClerkOperation["type"], readonly ArgumentField[]>;

type ArgumentField = "key" | "value" | "gids" | "shard" | "gid" | "num";

const ARGUMENT_FIELDS: readonly ArgumentField[] = ["key", "value", "gids", "shard", "gid", "num"];

/** Parses one input line, `{"op": ..., <argument fields>, "id": ...}`. Other fields are ignored. */
export function parseJsonOperation(line: string): JsonOperationResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return {
      ok: false,
      message: `not JSON: ${errorMessage(error)}`,
    };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, message: "each line must be a JSON object" };
  }
  const fields = value as Record<string, unknown>;
  const words = operationWords(fields);
  if (typeof words === "string") return { ok: false, message: words };
  const parsed = parseOperation(words);
  if (!parsed.ok) return parsed;
  return fields.id === undefined
    ? { ok: true, operation: parsed.operation }
    : { ok: true, operation: parsed.operation, id: fields.id };
}

/** The command-line words of `fields` (name, then arguments), or what is wrong with them. */
function operationWords(fields: Record<string, unknown>): string[] | string {
  const name = String(fields.op ?? "");
  // An unknown or missing "op": parseOperation says so and lists the known ones.
  if (!Object.hasOwn(FIELDS, name)) return [name];
  const expected: readonly ArgumentField[] = FIELDS[name as ClerkOperation["type"]];
  const words = [name];
  for (const field of ARGUMENT_FIELDS) {
    const argument = fields[field];
    if (argument === undefined) continue;
    if (!expected.includes(field)) {
      return `${name} takes no "${field}" (its fields: ${expected.join(", ")})`;
    }
  }
  for (const field of expected) {
    const argument = fields[field];
    if (argument === undefined) continue;
    const problem = fieldWords(field, argument, words);
    if (problem !== null) return problem;
  }
  return words;
}

/** Appends the words of one argument field to `words`; answers what is wrong, or null. */
function fieldWords(field: ArgumentField, argument: unknown, words: string[]): string | null {
  switch (field) {
    case "key":
    case "value":
      if (typeof argument !== "string") return `"${field}" must be a string`;
      words.push(argument);
      return null;
    case "gids":
      if (!Array.isArray(argument) || !argument.every((gid) => typeof gid === "number")) {
        return `"gids" must be an array of group ids (integers)`;
      }
      words.push(...argument.map(String));
      return null;
    case "shard":
    case "gid":
    case "num":
      if (typeof argument !== "number") return `"${field}" must be an integer`;
      words.push(String(argument));
      return null;
    default:
      return assertNever(field, "argument field");
  }
}
