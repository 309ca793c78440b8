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
import { startShardMasterReplica } from "./master_replica.ts";
import { startGroupReplica } from "./group_replica.ts";

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

/** Runs KV replica `id` of `config` (`main.ts node`); resolves to the process exit code. */
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
  return await runReplica(
    "node",
    id,
    io,
    processLogger(config.log.level, config.log.format, io),
    // With a shard master, the group follows its configurations; without, one group serves every key.
    (logger, onFatal) =>
      config.shardmaster === undefined
        ? startKvReplica({ config, replicaId: id, logger, onFatal })
        : startGroupReplica({ config, replicaId: id, logger, onFatal }),
  );
}

/** Runs shard master replica `id` of `config` (`main.ts shardmaster`). */
export async function runShardMaster(config: Config, id: string, io: ProcessIo): Promise<number> {
  if (findReplica(config, id)?.kind !== "shardmaster") {
    io.stderr(`shardkv shardmaster: "${id}" is not a [shardmaster] replica of the config\n`);
    return 2;
  }
  return await runReplica(
    "shardmaster",
    id,
    io,
    processLogger(config.log.level, config.log.format, io),
    (logger, onFatal) => startShardMasterReplica({ config, replicaId: id, logger, onFatal }),
  );
}

/**
 * Starts a replica and keeps it running until SIGINT / SIGTERM (exit 0 after a clean stop) or
 * a fatal error (exit 1). The signal listeners stay installed until the replica has stopped:
 * a second signal (a supervisor following up a terminal's Ctrl-C) must not kill the process
 * in the middle of its shutdown.
 */
async function runReplica(
  command: string,
  id: string,
  io: ProcessIo,
  logger: Logger,
  start: (logger: Logger, onFatal: (error: Error) => void) => Promise<{ stop(): Promise<void> }>,
): Promise<number> {
  let fatal: Error | null = null;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  let replica;
  try {
    replica = await start(logger, (error) => {
      fatal = error;
      wake();
    });
  } catch (error) {
    if (error instanceof StorageError) {
      io.stderr(`shardkv ${command}: ${error.message}\n`);
      return 1;
    }
    if (error instanceof Deno.errors.AddrInUse) {
      io.stderr(
        `shardkv ${command}: cannot listen: ${error.message} (is another process using the raft or admin port of "${id}"?)\n`,
      );
      return 1;
    }
    throw error;
  }
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
