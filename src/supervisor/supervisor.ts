/**
 * `shardkv local`: starts every process of a config file on this host as a child of this
 * program and supervises them. Each child's output lines are passed on with a `[id]` tag;
 * a child that exits unexpectedly is reported loudly and restarted with backoff (see
 * backoff.ts; `restart: false` turns that off); SIGINT or SIGTERM stops every child with
 * SIGTERM, then SIGKILL after STOP_GRACE_MS. Children are stopped on every way out of
 * {@link superviseLocal}, a thrown error included. Only a SIGKILL of the supervisor itself
 * can orphan them: nothing can run then.
 */

import { resolve } from "node:path";
import type { CliIo } from "../cli/io.ts";
import type { Config } from "../config/mod.ts";
import { assert } from "../util/assert.ts";
import { restartDelayMs, RestartSchedule } from "./backoff.ts";
import { type ChildExit, describeExit, ManagedChild } from "./child_process.ts";
import { endpointTable } from "./endpoint_table.ts";
import { EXIT_SETTLE_MS, STOP_GRACE_MS } from "./limits.ts";
import { linePrefix, prefixLines, prefixWidth } from "./output_lines.ts";
import {
  clusterProcesses,
  currentProgram,
  type ProcessSpec,
  type ProgramInvocation,
  replicaCommandArgs,
} from "./program.ts";

/** What {@link superviseLocal} runs and how. */
export interface LocalOptions {
  readonly config: Config;
  /** The config file, passed on to every child. */
  readonly configPath: string;
  /** Restart children that exit unexpectedly (the default); false is `--no-restart`. */
  readonly restart: boolean;
  readonly io: CliIo;
  /** How to start a child; defaults to this program (see program.ts). */
  readonly program?: ProgramInvocation;
  /** The restart delay after `failures` unexpected exits in a row; defaults to backoff.ts. */
  readonly restartDelayMs?: (failures: number) => number;
  /** Log format every child is told to use (`--log-format`); the config's own when absent. */
  readonly childLogFormat?: "text" | "json";
  /**
   * Runs once every child has been started (e.g. joining groups to the shard master); its
   * signal aborts when the supervisor stops. A failure is reported, never fatal.
   */
  readonly afterStart?: (signal: AbortSignal) => Promise<void>;
  /** SIGTERM-to-SIGKILL grace period; defaults to STOP_GRACE_MS. */
  readonly stopGraceMs?: number;
  /** Stops the supervisor as SIGINT does (for tests and embedding). */
  readonly abort?: AbortSignal;
  /** Signals that stop it; default SIGINT, SIGTERM, SIGHUP (SIGINT, SIGBREAK on Windows). */
  readonly signals?: readonly Deno.Signal[];
}

/** How the supervisor ended. */
export type LocalOutcome =
  /** Stopped by a signal (or the abort signal): every child was stopped. Exit 0. */
  | { readonly kind: "stopped"; readonly reason: string }
  /** With restarts off, every child exited by itself. Exit 1. */
  | { readonly kind: "allExited"; readonly exits: ReadonlyMap<string, ChildExit | undefined> }
  /** The supervisor could not start (a data directory could not be created). Exit 1. */
  | { readonly kind: "failed"; readonly message: string };

/** Runs the cluster of `options.config` until a signal; see the module comment. */
export async function superviseLocal(options: LocalOptions): Promise<LocalOutcome> {
  return await new LocalSupervisor(options).run();
}

/** One supervised process: its current child (if running) and its restart state. */
interface Slot {
  readonly spec: ProcessSpec;
  readonly prefix: string;
  readonly schedule: RestartSchedule;
  child: ManagedChild | undefined;
  /** The last exit (or undefined when the child could not even be spawned). */
  lastExit: ChildExit | undefined;
  /** With restarts off: the child has exited and stays down. */
  finished: boolean;
}

const SUPERVISOR_ID = "local";

class LocalSupervisor {
  readonly #options: LocalOptions;
  readonly #program: ProgramInvocation;
  readonly #configPath: string;
  readonly #slots: Slot[];
  readonly #ownPrefix: string;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #stopping = false;
  readonly #afterStartAbort = new AbortController();
  #finish: (outcome: LocalOutcome) => void = () => {};
  readonly #finished: Promise<LocalOutcome>;

  constructor(options: LocalOptions) {
    this.#options = options;
    this.#program = options.program ?? currentProgram();
    this.#configPath = resolve(options.configPath);
    const processes = clusterProcesses(options.config);
    assert(processes.length > 0, "a valid config has at least one process");
    const width = prefixWidth([SUPERVISOR_ID, ...processes.map((process) => process.id)]);
    this.#ownPrefix = linePrefix(SUPERVISOR_ID, width);
    this.#slots = processes.map((spec) => ({
      spec,
      prefix: linePrefix(spec.id, width),
      schedule: new RestartSchedule(options.restartDelayMs ?? restartDelayMs),
      child: undefined,
      lastExit: undefined,
      finished: false,
    }));
    this.#finished = new Promise((resolve) => (this.#finish = resolve));
  }

  async run(): Promise<LocalOutcome> {
    const failure = await this.#createDataDirs();
    if (failure !== undefined) return { kind: "failed", message: failure };
    this.#announce();
    const signals = this.#options.signals ?? defaultSignals();
    const onSignal = (signal: Deno.Signal) => () => this.#requestStop(`received ${signal}`);
    const listeners = signals.map((signal) => ({ signal, listener: onSignal(signal) }));
    const onAbort = () => this.#requestStop("aborted");
    try {
      for (const { signal, listener } of listeners) Deno.addSignalListener(signal, listener);
      this.#options.abort?.addEventListener("abort", onAbort, { once: true });
      if (this.#options.abort?.aborted === true) onAbort();
      for (const slot of this.#slots) if (!this.#stopping) this.#start(slot);
      const afterStart = this.#options.afterStart?.(this.#afterStartAbort.signal).catch((error) =>
        this.#shout(`after start: ${error instanceof Error ? error.message : String(error)}`)
      );
      const outcome = await this.#finished;
      this.#afterStartAbort.abort();
      await afterStart;
      return outcome;
    } finally {
      this.#afterStartAbort.abort();
      this.#stopping = true;
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      await this.#stopAll();
      this.#options.abort?.removeEventListener("abort", onAbort);
      for (const { signal, listener } of listeners) Deno.removeSignalListener(signal, listener);
    }
  }

  async #createDataDirs(): Promise<string | undefined> {
    const problems: string[] = [];
    for (const { spec } of this.#slots) {
      try {
        await Deno.mkdir(spec.dataDir, { recursive: true });
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        problems.push(`cannot create the data directory ${spec.dataDir} of ${spec.id}: ${reason}`);
      }
    }
    return problems.length === 0 ? undefined : problems.join("\n");
  }

  #announce(): void {
    const count = this.#slots.length;
    const policy = this.#options.restart
      ? "a process that exits is restarted after 1 s, 2 s, 4 s … up to 30 s"
      : "a process that exits stays down (--no-restart)";
    this.#say(`starting ${count} process${count === 1 ? "" : "es"} from ${this.#configPath}`);
    this.#say(`${policy}; Ctrl-C stops them all`);
    this.#options.io.stdout(endpointTable(this.#slots.map((slot) => slot.spec)));
  }

  #start(slot: Slot): void {
    assert(slot.child === undefined && !this.#stopping, "a slot runs one child at a time");
    const { io } = this.#options;
    let child: ManagedChild;
    try {
      child = ManagedChild.spawn({
        program: this.#program,
        commandArgs: replicaCommandArgs(
          slot.spec.role,
          this.#configPath,
          slot.spec.id,
          this.#options.childLogFormat,
        ),
        onLine: (stream, line) =>
          stream === "stdout"
            ? io.stdout(prefixLines(slot.prefix, [line]))
            : io.stderr(prefixLines(slot.prefix, [line])),
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.#shout(`cannot start ${slot.spec.id} (${this.#program.executable}): ${reason}`);
      this.#afterExit(slot, undefined, 0);
      return;
    }
    slot.child = child;
    this.#say(`started ${slot.spec.id} (pid ${child.pid})`);
    void child.exited.then((exit) => {
      slot.child = undefined;
      slot.lastExit = exit;
      if (this.#stopping) return;
      // Judged a moment later: see EXIT_SETTLE_MS.
      this.#later(EXIT_SETTLE_MS, () => {
        const uptimeMs = Date.now() - child.startedAtMs;
        this.#afterExit(slot, exit, uptimeMs);
      });
    });
  }

  /** A child exited (or could not be spawned: `exit` undefined) while nobody asked it to. */
  #afterExit(slot: Slot, exit: ChildExit | undefined, uptimeMs: number): void {
    if (this.#stopping) return;
    const how = exit === undefined
      ? "could not be started"
      : `exited unexpectedly with ${describeExit(exit)}`;
    const what = `${slot.spec.id} ${how} after ${seconds(uptimeMs)}`;
    if (!this.#options.restart) {
      slot.finished = true;
      this.#shout(`${what}; not restarting it (--no-restart)`);
      if (this.#slots.every((each) => each.finished)) {
        const exits = new Map(this.#slots.map((each) => [each.spec.id, each.lastExit]));
        this.#finish({ kind: "allExited", exits });
      }
      return;
    }
    const delayMs = slot.schedule.next(uptimeMs);
    const failures = slot.schedule.failures;
    this.#shout(
      `${what}; restarting it in ${seconds(delayMs)} (${failures} failure${
        failures === 1 ? "" : "s"
      } in a row)`,
    );
    this.#later(delayMs, () => this.#start(slot));
  }

  #requestStop(reason: string): void {
    if (this.#stopping) {
      // A second Ctrl-C: do not wait out the grace period.
      this.#say(`${reason} again: sending SIGKILL to every process now`);
      for (const slot of this.#slots) slot.child?.signal("SIGKILL");
      return;
    }
    this.#stopping = true;
    this.#say(`${reason}: stopping`);
    this.#finish({ kind: "stopped", reason });
  }

  async #stopAll(): Promise<void> {
    const running = this.#slots.flatMap((slot) => slot.child === undefined ? [] : [slot]);
    if (running.length === 0) return;
    const graceMs = this.#options.stopGraceMs ?? STOP_GRACE_MS;
    this.#say(
      `sending SIGTERM to ${running.length} process(es); SIGKILL after ${seconds(graceMs)}`,
    );
    await Promise.all(running.map(async (slot) => {
      const child = slot.child;
      if (child === undefined) return;
      const exit = await child.stop(graceMs, () => {
        this.#shout(`${slot.spec.id} did not exit within ${seconds(graceMs)}: sending SIGKILL`);
      });
      this.#say(`${slot.spec.id} stopped (${describeExit(exit)})`);
    }));
    assert(this.#slots.every((slot) => slot.child?.running !== true), "every child stopped");
  }

  /** Runs `callback` after `ms` unless the supervisor stops first. */
  #later(ms: number, callback: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopping) callback();
    }, ms);
    this.#timers.add(timer);
  }

  #say(message: string): void {
    this.#options.io.stderr(prefixLines(this.#ownPrefix, [message]));
  }

  /** A message that must not be missed: an unexpected exit, a forced kill. */
  #shout(message: string): void {
    this.#options.io.stderr(prefixLines(this.#ownPrefix, [`ERROR: ${message}`]));
  }
}

function defaultSignals(): Deno.Signal[] {
  // SIGHUP too: a closed terminal must not leave the children running without us.
  return Deno.build.os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM", "SIGHUP"];
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${Number((ms / 1000).toFixed(1))} s` : `${Math.round(ms / 1000)} s`;
}
