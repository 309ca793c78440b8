/**
 * Runs one shardkv command (`clerk …`, `status`) to completion against an e2e cluster's
 * config and returns its exit code and output, with a deadline.
 */

import { programArgs, type ProgramInvocation } from "../../src/supervisor/mod.ts";

/** The outcome of a command. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How to run a command. */
export interface CliRunOptions {
  readonly program: ProgramInvocation;
  readonly configPath: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  readonly stdin: string | undefined;
  /** SIGKILL and an error after this long. */
  readonly timeoutMs: number;
}

/**
 * `args` with `--config FILE` after the command (`clerk get k` → `clerk --config F get k`),
 * unless they name a config already or are not a command (`--version`, `help`).
 */
export function withConfigFlag(args: readonly string[], configPath: string): string[] {
  const [command, ...rest] = args;
  if (command === undefined || command.startsWith("-") || command === "help") return [...args];
  if (args.includes("--config") || args.some((arg) => arg.startsWith("--config="))) {
    return [...args];
  }
  return [command, "--config", configPath, ...rest];
}

/** Runs `args` (with the config flag added) and collects its output. */
export async function runCli(args: readonly string[], options: CliRunOptions): Promise<CliResult> {
  const child = new Deno.Command(options.program.executable, {
    args: programArgs(options.program, withConfigFlag(args, options.configPath)),
    cwd: options.cwd,
    env: { ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }, options.timeoutMs);
  try {
    const [output] = await Promise.all([child.output(), writeStdin(child, options.stdin)]);
    const decoder = new TextDecoder();
    const result = {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
    if (timedOut) {
      throw new Error(
        `shardkv ${args.join(" ")} did not finish within ${options.timeoutMs} ms\n` +
          `--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`,
      );
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

async function writeStdin(child: Deno.ChildProcess, text: string | undefined): Promise<void> {
  if (text === undefined) return;
  const writer = child.stdin.getWriter();
  try {
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
  } catch {
    // The command exited without reading all of its input.
  } finally {
    writer.releaseLock();
  }
}
