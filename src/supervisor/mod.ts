/**
 * The `local` supervisor (every process of a config as children of this program) and the
 * child-process plumbing it shares with the e2e harness.
 */

export { restartDelayMs, RestartSchedule } from "./backoff.ts";
export { type ChildExit, type ChildOptions, describeExit, ManagedChild } from "./child_process.ts";
export type { OutputStream } from "./child_process.ts";
export { endpointTable } from "./endpoint_table.ts";
export { linePrefix, LineSplitter, prefixLines, prefixWidth } from "./output_lines.ts";
export {
  adminUrl,
  clusterProcesses,
  currentProgram,
  denoRunProgram,
  MAIN_MODULE_URL,
  type ProcessRole,
  type ProcessSpec,
  programArgs,
  type ProgramInvocation,
  replicaCommandArgs,
  type RunningProcess,
} from "./program.ts";
export { type LocalOptions, type LocalOutcome, superviseLocal } from "./supervisor.ts";
