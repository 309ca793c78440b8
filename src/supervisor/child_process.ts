/**
 * One child process of this program, with its output read line by line. Shared by the
 * `local` supervisor and the e2e harness. Both pipes are always read to the end (a child
 * blocks when a pipe it writes to is full), and {@link ManagedChild.exited} resolves only
 * once the exit status is known and both pipes are done, so that nothing (no op, no
 * resource) outlives the child: Deno's test sanitizers check exactly that.
 */

import { assert } from "../util/assert.ts";
import { PIPE_DRAIN_MS } from "./limits.ts";
import { LineSplitter } from "./output_lines.ts";
import { programArgs, type ProgramInvocation } from "./program.ts";

/** Which pipe a line came from. */
export type OutputStream = "stdout" | "stderr";

/** How a child ended. `signal` is set when a signal ended it (then `code` is 128 + its number). */
export interface ChildExit {
  readonly code: number;
  readonly signal: Deno.Signal | null;
  readonly success: boolean;
}

/** What to start and where its output goes. */
export interface ChildOptions {
  readonly program: ProgramInvocation;
  /** The shardkv command line, e.g. `["node", "--config", F, "--id", "r1"]`. */
  readonly commandArgs: readonly string[];
  /** Called with each complete output line (without its newline). Must not throw. */
  readonly onLine: (stream: OutputStream, line: string) => void;
  readonly cwd?: string;
  /** Added to the inherited environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the child's stdin, which is then closed; without it stdin is /dev/null. */
  readonly stdin?: string;
}

/** A running (or finished) child process. */
export class ManagedChild {
  /** The operating system process id. */
  readonly pid: number;
  /** When the child was started (ms since the epoch). */
  readonly startedAtMs: number;
  /** Resolves once the child has exited and both its pipes have been read to the end. */
  readonly exited: Promise<ChildExit>;
  readonly #process: Deno.ChildProcess;
  #exit: ChildExit | undefined;

  private constructor(process: Deno.ChildProcess, options: ChildOptions) {
    this.#process = process;
    this.pid = process.pid;
    this.startedAtMs = Date.now();
    this.exited = this.#supervise(options);
  }

  /** Starts the child. Throws when it cannot be started (e.g. the executable is missing). */
  static spawn(options: ChildOptions): ManagedChild {
    const command = new Deno.Command(options.program.executable, {
      args: programArgs(options.program, options.commandArgs),
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: { ...options.env } }),
    });
    return new ManagedChild(command.spawn(), options);
  }

  /** The exit, once {@link exited} has resolved. */
  get exit(): ChildExit | undefined {
    return this.#exit;
  }

  /** True until the exit status is known. */
  get running(): boolean {
    return this.#exit === undefined;
  }

  /** Sends `signal`; false (and no error) when the child is already gone. */
  signal(signal: Deno.Signal): boolean {
    if (!this.running) return false;
    try {
      this.#process.kill(signal);
      return true;
    } catch {
      // The child exited between the check and the kill: nothing left to signal.
      return false;
    }
  }

  /**
   * SIGTERM, then SIGKILL if the child has not exited within `graceMs`. `onEscalate` is
   * called just before the SIGKILL. Resolves with the exit once the pipes are drained.
   */
  async stop(graceMs: number, onEscalate?: () => void): Promise<ChildExit> {
    assert(graceMs >= 0, `grace period is not negative: ${graceMs}`);
    if (this.signal("SIGTERM")) {
      const exitedInTime = await settlesWithin(this.#process.status, graceMs);
      if (!exitedInTime && this.running) {
        onEscalate?.();
        this.signal("SIGKILL");
      }
    }
    return await this.exited;
  }

  /** SIGKILL; resolves with the exit once the pipes are drained. */
  async kill(): Promise<ChildExit> {
    this.signal("SIGKILL");
    return await this.exited;
  }

  async #supervise(options: ChildOptions): Promise<ChildExit> {
    const stdout = new PipeReader(this.#process.stdout, (line) => options.onLine("stdout", line));
    const stderr = new PipeReader(this.#process.stderr, (line) => options.onLine("stderr", line));
    const stdinWritten = options.stdin === undefined
      ? Promise.resolve()
      : writeAndClose(this.#process.stdin, options.stdin);
    const status = await this.#process.status;
    this.#exit = { code: status.code, signal: status.signal, success: status.success };
    await stdinWritten;
    // A grandchild may hold a pipe open after the child is gone: stop waiting after a while.
    const drained = await settlesWithin(Promise.all([stdout.done, stderr.done]), PIPE_DRAIN_MS);
    if (!drained) await Promise.all([stdout.cancel(), stderr.cancel()]);
    return this.#exit;
  }
}

/** A human description of an exit: "exit code 1" or "signal SIGKILL". */
export function describeExit(exit: ChildExit): string {
  return exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
}

/** Reads one pipe to the end, line by line. */
class PipeReader {
  readonly done: Promise<void>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
    this.#reader = stream.getReader();
    this.done = this.#pump(onLine);
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
    await this.done;
  }

  async #pump(onLine: (line: string) => void): Promise<void> {
    const splitter = new LineSplitter();
    const emit = (lines: readonly string[]) => {
      for (const line of lines) {
        try {
          onLine(line);
        } catch {
          // A sink that fails (our own stdout closed, say) must not stop the draining.
        }
      }
    };
    try {
      while (true) {
        const { done, value } = await this.#reader.read();
        if (done) break;
        emit(splitter.push(value));
      }
    } catch {
      // A read fails only when the pipe is torn down; whatever was read has been passed on.
    } finally {
      emit(splitter.flush());
      this.#reader.releaseLock();
    }
  }
}

async function writeAndClose(stream: WritableStream<Uint8Array>, text: string): Promise<void> {
  const writer = stream.getWriter();
  try {
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
  } catch {
    // The child exited without reading all of its input: that is its choice to make.
  } finally {
    writer.releaseLock();
  }
}

/** Whether `promise` settles within `ms`; never leaves a timer behind. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
