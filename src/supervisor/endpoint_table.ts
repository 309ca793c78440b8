/** The table `shardkv local` prints at start-up: where each process listens. */

import { formatAddress } from "../config/mod.ts";
import { adminUrl, type ProcessSpec } from "./program.ts";

/** One aligned table, a header and a line per process, each line ending in "\n". */
export function endpointTable(processes: readonly ProcessSpec[]): string {
  const rows = [
    ["REPLICA", "COMMAND", "GROUP", "RAFT", "STATUS", "DATA"],
    ...processes.map((process) => [
      process.id,
      process.role,
      process.gid === undefined ? "-" : String(process.gid),
      formatAddress(process.raft),
      adminUrl(process.admin, "/status"),
      process.dataDir,
    ]),
  ];
  const widths = rows[0]!.map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? "").length))
  );
  return rows
    .map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ").trimEnd())
    .map((line) => `${line}\n`)
    .join("");
}
