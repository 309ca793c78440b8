/**
 * One process of an e2e cluster as the harness sees it: its spec, its current child (a
 * restart replaces it), every line it printed (bounded), and whether its last exit was
 * asked for by the test (kill9, terminate, close) or happened by itself.
 */

import {
  type ChildExit,
  describeExit,
  ManagedChild,
  type ProcessSpec,
  type ProgramInvocation,
  replicaCommandArgs,
} from "../../src/supervisor/mod.ts";

/** Lines kept per process; older lines are dropped (and counted). */
export const LOG_LINES_MAX = 20_000;
/** Lines per process that failure messages show. */
export const LOG_TAIL_LINES = 50;

/** Where a logged line came from: the child's pipes, or the harness's own notes. */
export type LogSource = "stdout" | "stderr" | "harness";

interface LogLine {
  readonly source: LogSource;
  readonly text: string;
}

/** A process of the cluster exited when the test did not ask it to. */
export class ProcessExitedError extends Error {
  override readonly name = "ProcessExitedError";
  readonly code = "processExited";
  readonly id: string;
  readonly exit: ChildExit;
  /** Everything it wrote to stderr (the last LOG_LINES_MAX lines). */
  readonly stderr: string;

  constructor(id: string, exit: ChildExit, stderr: string, logs: string) {
    super(`${id} exited unexpectedly with ${describeExit(exit)}\n${logs}`);
    this.id = id;
    this.exit = exit;
    this.stderr = stderr;
  }
}

/** What a process needs to (re)start. */
export interface SpawnContext {
  readonly program: ProgramInvocation;
  readonly configPath: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/** A process of an e2e cluster. */
export class E2EProcess {
  readonly spec: ProcessSpec;
  /** Every pid it has had, oldest first. */
  readonly pids: number[] = [];
  #child: ManagedChild | undefined;
  #expectExit = false;
  readonly #lines: LogLine[] = [];
  #droppedLines = 0;

  constructor(spec: ProcessSpec) {
    this.spec = spec;
  }

  get running(): boolean {
    return this.#child?.running ?? false;
  }

  /** The exit of the current child once it has exited (and its pipes are drained). */
  get exit(): ChildExit | undefined {
    return this.#child?.exit;
  }

  /** True when it has exited and nobody asked it to. */
  get exitedUnexpectedly(): boolean {
    return this.#child !== undefined && !this.#child.running && !this.#expectExit;
  }

  /** Resolves when the current child has exited and its pipes are drained. */
  get exited(): Promise<ChildExit | undefined> {
    return this.#child?.exited ?? Promise.resolve(undefined);
  }

  /** Starts a child; the previous one must have exited. */
  spawn(context: SpawnContext): void {
    if (this.running) throw new Error(`${this.spec.id} is already running`);
    const child = ManagedChild.spawn({
      program: context.program,
      commandArgs: replicaCommandArgs(this.spec.role, context.configPath, this.spec.id),
      cwd: context.cwd,
      env: context.env,
      onLine: (stream, line) => this.#log(stream, line),
    });
    this.#child = child;
    this.#expectExit = false;
    this.pids.push(child.pid);
    this.#log("harness", `[harness] started ${this.spec.id} (pid ${child.pid})`);
    void child.exited.then((exit) => {
      const how = this.#expectExit ? "" : " (unexpectedly)";
      this.#log("harness", `[harness] ${this.spec.id} exited with ${describeExit(exit)}${how}`);
    });
  }

  /** SIGKILL; resolves once it has exited. Undefined if it never ran. */
  async kill9(): Promise<ChildExit | undefined> {
    this.#expectExit = true;
    return await this.#child?.kill();
  }

  /** SIGTERM, SIGKILL after `graceMs`; resolves once it has exited. */
  async terminate(graceMs: number): Promise<ChildExit | undefined> {
    this.#expectExit = true;
    return await this.#child?.stop(graceMs, () => {
      this.#log("harness", `[harness] ${this.spec.id} ignored SIGTERM for ${graceMs} ms: SIGKILL`);
    });
  }

  /** Every line, oldest first (stdout and stderr interleaved as read, plus harness notes). */
  lines(source?: LogSource): string[] {
    const chosen = source === undefined
      ? this.#lines
      : this.#lines.filter((line) => line.source === source);
    return chosen.map((line) => line.text);
  }

  /** A block for failure messages: a header with the state, then the last `count` lines. */
  tail(count: number = LOG_TAIL_LINES): string {
    const state = this.running
      ? `running, pid ${this.pids.at(-1)}`
      : this.exit === undefined
      ? "not started"
      : `exited with ${describeExit(this.exit)}`;
    const shown = this.#lines.slice(-count);
    const total = this.#lines.length + this.#droppedLines;
    const header = `--- ${this.spec.id} (${state}): last ${shown.length} of ${total} lines ---`;
    return [header, ...shown.map((line) => line.source === "stderr" ? `! ${line.text}` : line.text)]
      .join("\n");
  }

  /** The error that reports this process's unexpected exit. */
  exitedError(logs: string): ProcessExitedError {
    const exit = this.exit;
    if (exit === undefined) throw new Error(`${this.spec.id} has not exited`);
    return new ProcessExitedError(this.spec.id, exit, this.lines("stderr").join("\n"), logs);
  }

  #log(source: LogSource, text: string): void {
    this.#lines.push({ source, text });
    // Trim in batches so that a chatty process costs O(1) per line.
    if (this.#lines.length > LOG_LINES_MAX + LOG_LINES_MAX / 4) {
      const excess = this.#lines.length - LOG_LINES_MAX;
      this.#lines.splice(0, excess);
      this.#droppedLines += excess;
    }
  }
}
