/**
 * Linearizability checking for shardkv histories: record what clients did with
 * {@link HistoryRecorder}, then ask {@link checkHistory} whether some order of the operations,
 * each taking effect at one instant between its call and its return, explains every read.
 */

export { checkHistory, type CheckOptions, type CheckResult } from "./checker.ts";
export {
  type AppendOperation,
  type Clock,
  type CompletedGetOperation,
  type DeleteOperation,
  type GetOperation,
  HistoryRecorder,
  type Invocation,
  type Operation,
  type OperationHandle,
  type OperationKind,
  type PutOperation,
  type UnknownGetOperation,
  validateOperation,
} from "./history.ts";
export { describeOperation } from "./illegal_report.ts";
export { generateLinearizableHistory, type GeneratorOptions } from "./history_generator.ts";
export { CHECK_BUDGET_MS_DEFAULT } from "./limits.ts";
