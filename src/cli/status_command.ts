/**
 * `shardkv status`: one table for the whole cluster, read from `GET /status` on the admin
 * endpoint of every process in the config (every replica of every [[groups]] and of the
 * [shardmaster]), all asked at once, each with a short timeout.
 *
 * Columns: REPLICA, KIND (node or shardmaster), GROUP (the gid; "-" for the shard master),
 * ROLE, TERM, LEADER (the replica id of the leader the process knows of; "-" if none),
 * COMMIT, APPLIED; CONFIG and SHARDS when the cluster is sharded (a [shardmaster] section)
 * or any answer carries them; NOTE when any row has something to say. A process that does
 * not answer is a row with ROLE "unreachable" (no connection, timeout) or "error" (it
 * answered, but not with a status document) and the reason in NOTE. Under the table, one
 * line per Raft group: its leader, term and how many of its replicas answered.
 *
 * What the status document of a shard-aware group replica carries (other processes do not
 * send these fields, and the columns then read "-"):
 *
 *     { config: number,                        // the shard configuration the group is in
 *       shards: { [shard: string]: ShardState }, // the shards it holds, by decimal shard id
 *       pendingGc?: number }                   // deletions of earlier configs not yet confirmed
 *
 * where ShardState is "serving" | "pulling" | "handingOff" | "waitingGc". An array indexed
 * by shard (null for a shard the group does not hold) is accepted too. SHARDS renders runs
 * of consecutive shards in the same state compactly: `0-3:serving 4:pulling`; "none" for
 * a group that holds no shard, "?" for a field of another shape; ` gc-pending:N` is appended
 * while N deletions of earlier configs await their old owner's confirmation.
 *
 * Exit codes: 0 when every process answered, 1 when any did not (unreachable or error).
 */

import { type Address, type Config, formatAddress, type ReplicaConfig } from "../config/mod.ts";
import { adminUrl } from "../supervisor/mod.ts";
import { assert } from "../util/assert.ts";
import type { CliIo } from "./io.ts";

/** How long each process has to answer `GET /status`, body included. */
export const STATUS_TIMEOUT_MS = 1_000;
/** Largest status document accepted; a longer answer is refused, not buffered. */
export const STATUS_BODY_BYTES_MAX = 1_048_576;
/** Longest table cell; text from the network is cut to this many characters. */
export const STATUS_CELL_CHARS_MAX = 160;

/** Exit code when every process answered (equal to commands.ts EXIT_OK). */
export const STATUS_EXIT_ALL_ANSWERED = 0;
/** Exit code when some process did not answer (equal to commands.ts EXIT_FAILURE). */
export const STATUS_EXIT_SOME_UNANSWERED = 1;

/** The two kinds of process a config describes. */
export type ProcessKind = "node" | "shardmaster";

/** One process to ask for its status. */
export interface StatusTarget {
  readonly id: string;
  readonly kind: ProcessKind;
  /** The replica group's gid; undefined for the shard master. */
  readonly gid: number | undefined;
  readonly admin: Address;
  /** Every replica of its Raft group in config order: Raft node id k is `replicas[k - 1]`. */
  readonly replicas: readonly ReplicaConfig[];
}

/** What asking one process gave. */
export type StatusAnswer =
  | { readonly type: "answered"; readonly document: Readonly<Record<string, unknown>> }
  /** No HTTP answer at all: refused, timed out, host not found. */
  | { readonly type: "unreachable"; readonly reason: string }
  /** An HTTP answer that is not a status document: a non-2xx status, not JSON, too large. */
  | { readonly type: "badAnswer"; readonly reason: string };

/** One process and its answer. */
export interface StatusResult {
  readonly target: StatusTarget;
  readonly answer: StatusAnswer;
}

/** What `shardkv status` was asked to do. */
export interface StatusOptions {
  /** Print JSON (one object per process) instead of the table. */
  readonly json: boolean;
  readonly timeoutMs?: number;
}

/** Asks every process of `config`, prints the table (or JSON) and returns the exit code. */
export async function runStatusCommand(
  config: Config,
  options: StatusOptions,
  io: CliIo,
): Promise<number> {
  const results = await fetchClusterStatus(config, options.timeoutMs ?? STATUS_TIMEOUT_MS);
  io.stdout(options.json ? renderStatusJson(results) : renderStatusTable(config, results));
  return statusExitCode(results);
}

/** Every process of the config: the shard master's replicas first, then each group's. */
export function statusTargets(config: Config): StatusTarget[] {
  const targets: StatusTarget[] = [];
  const masterReplicas = config.shardmaster?.replicas ?? [];
  for (const replica of masterReplicas) {
    targets.push({
      id: replica.id,
      kind: "shardmaster",
      gid: undefined,
      admin: replica.admin,
      replicas: masterReplicas,
    });
  }
  for (const group of config.groups) {
    for (const replica of group.replicas) {
      targets.push({
        id: replica.id,
        kind: "node",
        gid: group.gid,
        admin: replica.admin,
        replicas: group.replicas,
      });
    }
  }
  return targets;
}

/** Asks every process of `config` concurrently; the results are in {@link statusTargets} order. */
export async function fetchClusterStatus(
  config: Config,
  timeoutMs: number = STATUS_TIMEOUT_MS,
): Promise<StatusResult[]> {
  const targets = statusTargets(config);
  const answers = await Promise.all(targets.map((target) => fetchStatus(target.admin, timeoutMs)));
  assert(answers.length === targets.length, "one answer per process");
  return targets.map((target, k) => ({ target, answer: answers[k]! }));
}

/** `GET /status` on one admin endpoint; never throws, a failure is a typed answer. */
export async function fetchStatus(admin: Address, timeoutMs: number): Promise<StatusAnswer> {
  assert(Number.isSafeInteger(timeoutMs) && timeoutMs >= 1, `bad status timeout ${timeoutMs}`);
  // A timer of our own rather than AbortSignal.timeout, so that it is always cleared.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(adminUrl(admin, "/status"), {
      headers: { accept: "application/json" },
      signal: controller.signal,
    });
    if (!response.ok) {
      await response.body?.cancel();
      return { type: "badAnswer", reason: `HTTP ${response.status}` };
    }
    const text = await readBodyText(response, STATUS_BODY_BYTES_MAX);
    if (text === undefined) {
      return { type: "badAnswer", reason: `answer over ${STATUS_BODY_BYTES_MAX} bytes` };
    }
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      return { type: "badAnswer", reason: "answer is not JSON" };
    }
    if (!isRecord(document)) return { type: "badAnswer", reason: "answer is not a JSON object" };
    return { type: "answered", document };
  } catch (error) {
    if (controller.signal.aborted) {
      return { type: "unreachable", reason: `timeout after ${timeoutMs} ms` };
    }
    return { type: "unreachable", reason: fetchFailureReason(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** The body as text, or undefined (and the body cancelled) once it passes `bytesMax`. */
async function readBodyText(response: Response, bytesMax: number): Promise<string | undefined> {
  if (response.body === null) return "";
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.length;
    if (bytes > bytesMax) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(bytes);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  assert(offset === bytes, "every chunk copied");
  return new TextDecoder().decode(all);
}

/** A short reason for a failed fetch: Deno puts the socket error in the cause's message. */
function fetchFailureReason(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const detail = [error, cause].map((e) => e instanceof Error ? e.message : String(e)).join(" ");
  if (/connection refused/i.test(detail)) return "connection refused";
  if (/connection reset/i.test(detail)) return "connection reset";
  if (/dns error|failed to lookup address/i.test(detail)) return "cannot resolve host";
  if (/network is unreachable|no route to host/i.test(detail)) return "network unreachable";
  const last = detail.split(": ").at(-1) ?? detail;
  return cell(last.replace(/ \(os error \d+\)$/, ""));
}

/** 0 when every process answered, 1 otherwise. */
export function statusExitCode(results: readonly StatusResult[]): number {
  return results.every((result) => result.answer.type === "answered")
    ? STATUS_EXIT_ALL_ANSWERED
    : STATUS_EXIT_SOME_UNANSWERED;
}

/** The `--json` output: one object per process, `status` null when it did not answer. */
export function renderStatusJson(results: readonly StatusResult[]): string {
  const entries = results.map(({ target, answer }) => ({
    id: target.id,
    kind: target.kind,
    group: target.gid ?? null,
    admin: formatAddress(target.admin),
    status: answer.type === "answered" ? answer.document : null,
    error: answer.type === "answered" ? null : answer.reason,
  }));
  return `${JSON.stringify(entries, null, 2)}\n`;
}

/** The status table, then one summary line per Raft group. Pure: the fetching is done. */
export function renderStatusTable(config: Config, results: readonly StatusResult[]): string {
  const sharded = config.shardmaster !== undefined ||
    results.some(({ answer }) =>
      answer.type === "answered" &&
      (answer.document.config !== undefined || answer.document.shards !== undefined)
    );
  const rows = results.map((result) => statusRow(result, config.cluster.shards));
  const withNote = rows.some((row) => row.note !== "");
  const header = ["REPLICA", "KIND", "GROUP", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED"];
  const lines = [[
    ...header,
    ...(sharded ? ["CONFIG", "SHARDS"] : []),
    ...(withNote ? ["NOTE"] : []),
  ]];
  for (const row of rows) {
    lines.push([
      ...row.cells,
      ...(sharded ? [row.config, row.shards] : []),
      ...(withNote ? [row.note] : []),
    ]);
  }
  return `${formatColumns(lines)}\n${summaryLines(results).join("\n")}\n`;
}

interface StatusRow {
  /** The eight columns every table has. */
  readonly cells: readonly string[];
  readonly config: string;
  readonly shards: string;
  readonly note: string;
}

function statusRow({ target, answer }: StatusResult, shardCount: number): StatusRow {
  const group = target.gid === undefined ? "-" : String(target.gid);
  const start = [target.id, target.kind, group];
  if (answer.type !== "answered") {
    const role = answer.type === "unreachable" ? "unreachable" : "error";
    return {
      cells: [...start, role, "-", "-", "-", "-"],
      config: "-",
      shards: "-",
      note: answer.reason,
    };
  }
  const document = answer.document;
  const raft = isRecord(document.raft) ? document.raft : {};
  const answeredAs = typeof document.id === "string" && document.id !== target.id
    ? `answers as "${cell(document.id)}": check the admin addresses`
    : "";
  return {
    cells: [
      ...start,
      typeof document.role === "string" ? cell(document.role) : "?",
      integerText(document.term),
      leaderReplicaId(target.replicas, document.leader),
      integerText(raft.commit),
      integerText(raft.applied),
    ],
    config: integerText(document.config),
    shards: compactShards(document.shards, shardCount) + pendingGcText(document.pendingGc),
    note: answeredAs,
  };
}

/** ` gc-pending:N` for a positive count of pending GCs, "" otherwise. */
export function pendingGcText(pendingGc: unknown): string {
  return Number.isSafeInteger(pendingGc) && (pendingGc as number) > 0
    ? ` gc-pending:${pendingGc}`
    : "";
}

/**
 * The replica id of Raft node `leader` (1-based position in its group); "-" for no leader
 * (null, absent or 0), `#N` for a node id the group does not have, "?" for a non-integer.
 */
export function leaderReplicaId(replicas: readonly ReplicaConfig[], leader: unknown): string {
  if (leader === null || leader === undefined || leader === 0) return "-";
  if (!Number.isSafeInteger(leader)) return "?";
  const replica = replicas[(leader as number) - 1];
  return replica === undefined || (leader as number) < 1 ? `#${leader}` : replica.id;
}

/**
 * The SHARDS cell (see the module comment): runs of consecutive shards in one state,
 * `0-3:serving 4:pulling`. "-" when absent, "none" when empty, "?" when malformed (a key
 * that is not a shard id below `shardCount`, a state that is not a string).
 */
export function compactShards(shards: unknown, shardCount: number): string {
  if (shards === undefined || shards === null) return "-";
  let entries: [string, unknown][];
  if (Array.isArray(shards)) entries = shards.map((state, shard) => [String(shard), state]);
  else if (isRecord(shards)) entries = Object.entries(shards);
  else return "?";
  const states: { shard: number; state: string }[] = [];
  for (const [key, state] of entries) {
    if (state === null) continue;
    const shard = /^(0|[1-9][0-9]{0,9})$/.test(key) ? Number(key) : -1;
    if (shard < 0 || shard >= shardCount || typeof state !== "string" || state === "") return "?";
    states.push({ shard, state });
  }
  if (states.length === 0) return "none";
  states.sort((a, b) => a.shard - b.shard);
  const runs: { first: number; last: number; state: string }[] = [];
  for (const { shard, state } of states) {
    const run = runs.at(-1);
    if (run !== undefined && run.last + 1 === shard && run.state === state) run.last = shard;
    else runs.push({ first: shard, last: shard, state });
  }
  const text = runs
    .map((run) => `${run.first === run.last ? run.first : `${run.first}-${run.last}`}:${run.state}`)
    .join(" ");
  return cell(text);
}

/** "group 1: leader r1 (term 3); 3/3 reachable", one line per Raft group, in table order. */
function summaryLines(results: readonly StatusResult[]): string[] {
  const groups = new Map<string, StatusResult[]>();
  for (const result of results) {
    const name = result.target.gid === undefined ? "shardmaster" : `group ${result.target.gid}`;
    const members = groups.get(name) ?? [];
    members.push(result);
    groups.set(name, members);
  }
  return [...groups].map(([name, members]) => {
    const answered = members.filter((member) => member.answer.type === "answered").length;
    return `${name}: ${groupLeader(members)}; ${answered}/${members.length} reachable`;
  });
}

/**
 * The leader of one group as its answers tell it: a replica that says it leads in the
 * highest term seen; failing that (the leader itself did not answer), the leader that
 * followers in the highest term name. A deposed leader that has not heard of the newer
 * term yet still says "leader"; the higher term wins.
 */
function groupLeader(members: readonly StatusResult[]): string {
  let best: { term: number; id: string; self: boolean } | undefined;
  for (const { target, answer } of members) {
    if (answer.type !== "answered" || !Number.isSafeInteger(answer.document.term)) continue;
    const term = answer.document.term as number;
    const named = leaderReplicaId(target.replicas, answer.document.leader);
    const self = answer.document.role === "leader";
    const id = self ? target.id : named;
    if (id === "-" || id === "?" || id.startsWith("#")) continue;
    if (best === undefined || term > best.term || (term === best.term && self && !best.self)) {
      best = { term, id, self };
    }
  }
  if (best === undefined) return "no leader";
  if (best.self) return `leader ${best.id} (term ${best.term})`;
  const leaderId = best.id;
  const silent = members.some(({ target, answer }) =>
    target.id === leaderId && answer.type !== "answered"
  );
  return `leader ${leaderId} (term ${best.term}, as followers report` +
    `${silent ? "; it did not answer" : ""})`;
}

/** Rows as left-aligned columns two spaces apart, without trailing spaces. */
function formatColumns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((text, column) => widths[column] = Math.max(widths[column] ?? 0, text.length));
  }
  return rows
    .map((row) => row.map((text, column) => text.padEnd(widths[column]!)).join("  ").trimEnd())
    .join("\n");
}

/** A non-negative safe integer as text; "-" when absent, "?" when something else. */
function integerText(value: unknown): string {
  if (value === undefined || value === null) return "-";
  return Number.isSafeInteger(value) && (value as number) >= 0 ? String(value) : "?";
}

/** Text from the network made safe for one table cell: no control characters, bounded. */
function cell(text: string): string {
  // deno-lint-ignore no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, "?");
  return clean.length <= STATUS_CELL_CHARS_MAX
    ? clean
    : `${clean.slice(0, STATUS_CELL_CHARS_MAX - 1)}…`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
