/**
 * `main.ts node`: runs one KV replica until SIGINT or SIGTERM (exit 0 after a clean stop) or
 * a fatal error (exit 1). Everything that touches the process (signals, stdout, the clock)
 * is here or in main.ts; the replica itself only gets what it is given.
 */

import type { Config, LogFormat, LogLevel } from "../config/mod.ts";
import { findReplica } from "../config/mod.ts";
import { createLogger, type Logger } from "../util/logger.ts";
import { StorageError } from "../raft/wal/storage_error.ts";
import { startKvReplica } from "./kv_replica.ts";

/** Where a process writes. */
export interface ProcessIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The process logger the config asks for; "auto" is readable text on a terminal, JSON elsewhere. */
export function processLogger(level: LogLevel, format: LogFormat, io: ProcessIo): Logger {
  const resolved = format === "auto" ? (Deno.stderr.isTerminal() ? "text" : "json") : format;
  return createLogger({ level, format: resolved, write: (line) => io.stderr(line + "\n") });
}

/** Runs replica `id` of `config`; resolves to the process exit code. */
export async function runNode(config: Config, id: string, io: ProcessIo): Promise<number> {
  const location = findReplica(config, id);
  if (location === undefined) {
    io.stderr(
      `shardkv node: no replica "${id}" in the config (known: ${knownIds(config).join(", ")})\n`,
    );
    return 2;
  }
  if (location.kind !== "group") {
    io.stderr(
      `shardkv node: "${id}" is a shard master replica; start it with "shardkv shardmaster"\n`,
    );
    return 2;
  }
  const logger = processLogger(config.log.level, config.log.format, io);
  let fatal: Error | null = null;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  let replica;
  try {
    replica = await startKvReplica({
      config,
      replicaId: id,
      logger,
      onFatal: (error) => {
        fatal = error;
        wake();
      },
    });
  } catch (error) {
    if (error instanceof StorageError) {
      io.stderr(`shardkv node: ${error.message}\n`);
      return 1;
    }
    if (error instanceof Deno.errors.AddrInUse) {
      io.stderr(
        `shardkv node: cannot listen: ${error.message} (is another process using the raft or admin port of "${id}"?)\n`,
      );
      return 1;
    }
    throw error;
  }
  // The listeners stay installed until the replica has stopped: a second signal (a supervisor
  // following up a terminal's Ctrl-C) must not kill the process in the middle of its shutdown.
  const onSignal = () => wake();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    await stopped;
    await replica.stop();
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  return fatal === null ? 0 : 1;
}

function knownIds(config: Config): string[] {
  return [
    ...config.groups.flatMap((group) => group.replicas.map((replica) => replica.id)),
    ...(config.shardmaster?.replicas.map((replica) => replica.id) ?? []),
  ];
}
