/**
 * End-to-end clusters of real shardkv processes on loopback, for tests/e2e. A test starts
 * one with {@link E2ECluster.start}, which writes a config with free ports and short
 * timings into a fresh temp dir and spawns `deno run -A main.ts node|shardmaster …` for
 * every replica, and stops it with `await using` (or `close()` in a `finally`): every
 * process is killed and the temp dir removed, whether the test passed or not.
 *
 * ```ts
 * await using cluster = await E2ECluster.start({ groups: [3] });
 * const leader = await cluster.waitFor(() => cluster.leader(1), 10_000, "a leader of group 1");
 * await cluster.kill9(leader);
 * ```
 *
 * Every line each process prints is kept; failures ({@link waitFor} timeouts, unexpected
 * exits) show the last 50 lines of each process. SHARDKV_E2E_KEEP=1 keeps the temp dir.
 */

import { fileURLToPath } from "node:url";
import { type Config, parseConfig } from "../../src/config/mod.ts";
import {
  adminUrl,
  type ChildExit,
  clusterProcesses,
  denoRunProgram,
  MAIN_MODULE_URL,
} from "../../src/supervisor/mod.ts";
import { type CliResult, runCli } from "./cli_runner.ts";
import { checkOptions, ClusterStartError, type E2EClusterOptions } from "./cluster_options.ts";
import { clusterToml, layoutCluster, portsNeeded, type TomlOverrides } from "./cluster_toml.ts";
import {
  E2EProcess,
  type LogSource,
  ProcessExitedError,
  type SpawnContext,
} from "./e2e_process.ts";
import { freeLoopbackPorts } from "./ports.ts";

export type { CliResult } from "./cli_runner.ts";
export type { ConfigOverrides, TomlOverrides, TomlValue } from "./cluster_toml.ts";
export { ClusterStartError, type E2EClusterOptions } from "./cluster_options.ts";
export { ProcessExitedError } from "./e2e_process.ts";

/** A `GET /status` document. */
export type StatusDocument = Record<string, unknown>;

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const START_ATTEMPTS_MAX = 3;
const POLL_INTERVAL_MS = 50;
const STATUS_TIMEOUT_MS = 1_000;
const TERMINATE_GRACE_MS = 10_000;
const CLI_TIMEOUT_MS = 30_000;
const PORT_TAKEN = /AddrInUse|address already in use/i;

/** A cluster of real processes; see the module comment. */
export class E2ECluster implements AsyncDisposable {
  /** The temp dir holding the config and the data dirs. */
  readonly dir: string;
  readonly configPath: string;
  readonly config: Config;
  readonly #processes: Map<string, E2EProcess>;
  readonly #context: SpawnContext;
  #closed = false;

  private constructor(dir: string, configPath: string, config: Config, context: SpawnContext) {
    this.dir = dir;
    this.configPath = configPath;
    this.config = config;
    this.#context = context;
    this.#processes = new Map(
      clusterProcesses(config).map((spec) => [spec.id, new E2EProcess(spec)]),
    );
  }

  /** Writes the config, spawns every process and (by default) waits for their admin endpoints. */
  static async start(options: E2EClusterOptions): Promise<E2ECluster> {
    checkOptions(options);
    for (let attempt = 1;; attempt++) {
      const cluster = await E2ECluster.#create(options);
      try {
        for (const process of cluster.#processes.values()) process.spawn(cluster.#context);
        if ((options.ready ?? "admin") === "admin") {
          await cluster.#waitAllReady(options.readyTimeoutMs ?? 30_000);
        }
        return cluster;
      } catch (error) {
        const pids = [...cluster.#processes.values()].flatMap((process) => process.pids);
        await cluster.close();
        const portTaken = error instanceof ProcessExitedError && PORT_TAKEN.test(error.stderr);
        if (portTaken && attempt < START_ATTEMPTS_MAX) continue;
        throw new ClusterStartError(error, cluster.dir, pids);
      }
    }
  }

  static async #create(options: E2EClusterOptions): Promise<E2ECluster> {
    const dir = await Deno.makeTempDir({ prefix: "shardkv-e2e-" });
    try {
      const shardmaster = options.shardmaster ?? 0;
      const ports = freeLoopbackPorts(portsNeeded(options.groups, shardmaster));
      const layout = layoutCluster(options.groups, shardmaster, ports);
      const overrides = options.configOverrides;
      const structured: TomlOverrides = typeof overrides === "object" ? overrides : {};
      let text = clusterToml(layout, `${dir}/data`, structured);
      if (typeof overrides === "function") text = overrides(text);
      const configPath = `${dir}/cluster.toml`;
      await Deno.writeTextFile(configPath, text);
      const parsed = parseConfig(text, configPath);
      if (!parsed.ok) throw new Error(`${parsed.error.message}\n--- ${configPath} ---\n${text}`);
      for (const spec of clusterProcesses(parsed.config)) {
        await Deno.mkdir(spec.dataDir, { recursive: true });
      }
      return new E2ECluster(dir, configPath, parsed.config, {
        program: options.program ?? denoRunProgram(MAIN_MODULE_URL, Deno.execPath()),
        configPath,
        cwd: REPO_ROOT,
        env: { NO_COLOR: "1", ...options.env },
      });
    } catch (error) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  /** Every replica id, shard master first; or those of group `gid`. */
  ids(gid?: number | "shardmaster"): string[] {
    return [...this.#processes.values()]
      .filter(({ spec }) =>
        gid === undefined ||
        (gid === "shardmaster" ? spec.role === "shardmaster" : spec.gid === gid)
      )
      .map(({ spec }) => spec.id);
  }

  /** The base URL of a replica's admin endpoint, e.g. `http://127.0.0.1:41234`. */
  admin(id: string): string {
    return adminUrl(this.#process(id).spec.admin, "/").slice(0, -1);
  }

  /** The admin token mutating admin calls need. */
  get adminToken(): string {
    return this.config.cluster.adminToken;
  }

  /** GET /status as JSON, or null when the endpoint does not answer 2xx JSON in time. */
  async status(id: string, timeoutMs: number = STATUS_TIMEOUT_MS): Promise<StatusDocument | null> {
    const result = await this.adminCall(id, "GET", "/status", undefined, timeoutMs);
    const ok = result !== null && result.status >= 200 && result.status < 300;
    return ok && isRecord(result.body) ? result.body : null;
  }

  /**
   * One admin call with the admin token; `body` is sent as JSON. Null when the endpoint is
   * unreachable or too slow; `body` of the result is the parsed JSON, or the text.
   */
  async adminCall(
    id: string,
    method: string,
    path: string,
    body?: unknown,
    timeoutMs: number = STATUS_TIMEOUT_MS,
  ): Promise<{ status: number; body: unknown } | null> {
    const url = adminUrl(this.#process(id).spec.admin, path);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const response = await fetch(url, {
        method,
        signal: abort.signal,
        headers: { authorization: `Bearer ${this.adminToken}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: parseJsonOr(text) };
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The leader of group `gid` (or of the shard master): the highest-term replica that says "leader". */
  async leader(gid: number | "shardmaster"): Promise<string | null> {
    const ids = this.ids(gid);
    if (ids.length === 0) throw new Error(`no group ${gid} in this cluster`);
    const statuses = await Promise.all(
      ids.map(async (id) => ({ id, status: await this.status(id) })),
    );
    let best: { id: string; term: number } | null = null;
    for (const { id, status } of statuses) {
      const term = status?.term;
      if (status?.role !== "leader" || typeof term !== "number") continue;
      if (best === null || term > best.term) best = { id, term };
    }
    return best?.id ?? null;
  }

  /**
   * Polls `predicate` until it returns a truthy value, and returns that. After `timeoutMs`
   * throws an error naming `what`, with the last error the predicate threw and the logs.
   * A {@link ProcessExitedError} from the predicate (say from assertAllRunning) ends the
   * wait at once; other errors count as "not yet".
   */
  async waitFor<T>(
    predicate: () => T | Promise<T>,
    timeoutMs: number,
    what: string,
  ): Promise<Exclude<Awaited<T>, false | null | undefined | 0 | "">> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (true) {
      try {
        const value = await predicate();
        if (value) return value as Exclude<Awaited<T>, false | null | undefined | 0 | "">;
      } catch (error) {
        if (error instanceof ProcessExitedError) throw error;
        lastError = error;
      }
      if (Date.now() >= deadline) break;
      await delay(Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - Date.now())));
    }
    const last = lastError === undefined ? "" : ` (last error: ${errorText(lastError)})`;
    throw new Error(
      `Timed out after ${timeoutMs} ms waiting for ${what}${last}\n${this.dumpLogs()}`,
    );
  }

  /** Waits until `id` answers GET /status; throws if it exits first. */
  async waitReady(id: string, timeoutMs: number = 30_000): Promise<void> {
    const process = this.#process(id);
    await this.waitFor(
      async () => {
        if (process.exitedUnexpectedly) throw process.exitedError(this.dumpLogs());
        return (await this.status(id)) !== null;
      },
      timeoutMs,
      `${id} to answer GET /status`,
    );
  }

  /** SIGKILL; resolves with the exit once the process is gone. */
  async kill9(id: string): Promise<ChildExit | undefined> {
    return await this.#process(id).kill9();
  }

  /** SIGTERM (SIGKILL after `graceMs`); resolves with the exit code once it is gone. */
  async terminate(id: string, graceMs: number = TERMINATE_GRACE_MS): Promise<number> {
    const exit = await this.#process(id).terminate(graceMs);
    if (exit === undefined) throw new Error(`${id} was never started`);
    return exit.code;
  }

  /** Starts `id` again (terminating it first if it still runs); does not wait for readiness. */
  async restart(id: string): Promise<void> {
    const process = this.#process(id);
    if (process.running) await process.terminate(TERMINATE_GRACE_MS);
    if (this.#closed) throw new Error(`cannot restart ${id}: the cluster is closed`);
    process.spawn(this.#context);
  }

  /** Whether `id` is running now. */
  isRunning(id: string): boolean {
    return this.#process(id).running;
  }

  /** Throws a {@link ProcessExitedError} if any process exited without the test asking. */
  assertAllRunning(): void {
    for (const process of this.#processes.values()) {
      if (process.exitedUnexpectedly) throw process.exitedError(this.dumpLogs());
    }
  }

  /** Every pid every process has had (restarts add pids). */
  pids(): number[] {
    return [...this.#processes.values()].flatMap((process) => process.pids);
  }

  /** The lines `id` printed, oldest first: stdout, stderr or both (with harness notes). */
  logs(id: string, source?: LogSource): string[] {
    return this.#process(id).lines(source);
  }

  /** The last `lines` lines of every process, for failure messages. */
  dumpLogs(lines?: number): string {
    return [...this.#processes.values()].map((process) => process.tail(lines)).join("\n");
  }

  /** Runs `main.ts <args>` with `--config` added (see cli_runner.ts) and collects its output. */
  async spawnCli(
    args: readonly string[],
    stdin?: string,
    options: { readonly timeoutMs?: number; readonly env?: Readonly<Record<string, string>> } = {},
  ): Promise<CliResult> {
    return await runCli(args, {
      program: this.#context.program,
      configPath: this.configPath,
      cwd: this.#context.cwd,
      env: { ...this.#context.env, ...options.env },
      stdin,
      timeoutMs: options.timeoutMs ?? CLI_TIMEOUT_MS,
    });
  }

  /** Kills every process still running, waits for them, removes the temp dir. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const processes = [...this.#processes.values()];
    await Promise.all(processes.map((process) => process.running ? process.kill9() : undefined));
    await Promise.all(processes.map((process) => process.exited));
    if (Deno.env.get("SHARDKV_E2E_KEEP") === "1") {
      console.error(`e2e: kept ${this.dir} (SHARDKV_E2E_KEEP=1)`);
      return;
    }
    await Deno.remove(this.dir, { recursive: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #waitAllReady(timeoutMs: number): Promise<void> {
    const waiting = new Set(this.#processes.keys());
    await this.waitFor(
      async () => {
        this.assertAllRunning();
        const answered = await Promise.all(
          [...waiting].map(async (id) => ({ id, up: (await this.status(id)) !== null })),
        );
        for (const { id, up } of answered) if (up) waiting.delete(id);
        return waiting.size === 0;
      },
      timeoutMs,
      "every admin endpoint to answer GET /status",
    );
  }

  #process(id: string): E2EProcess {
    const process = this.#processes.get(id);
    if (process === undefined) {
      throw new Error(`no replica "${id}" in this cluster (known: ${this.ids().join(", ")})`);
    }
    return process;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0] ?? "" : String(error);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
