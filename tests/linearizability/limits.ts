/**
 * Limits of the linearizability checker (STYLE.md #5). Input past a limit is refused with an
 * assertion (the harness is broken); a search that would pass one answers "unknown" instead of
 * exhausting memory, so a check is never silently half done.
 */

import { assert } from "../../src/util/assert.ts";

/** Most operations one history may hold: far above any test's history, small enough for memory. */
export const HISTORY_OPERATIONS_MAX = 1_000_000;

/** Most operations a HistoryRecorder keeps: the checker's limit, so a recording always fits. */
export const RECORDED_OPERATIONS_MAX = HISTORY_OPERATIONS_MAX;

/** Most distinct register values (states) the search of one key may intern. */
export const KEY_STATES_MAX = 1 << 24;

/** Most characters of register values the search of one key may build by appending (memory). */
export const KEY_STATE_CHARS_MAX = 1 << 28;

/** Most memoised (state, append) transitions the search of one key may keep. */
export const KEY_TRANSITIONS_MAX = 1 << 24;

/** Most 32-bit bitset words the visited-configuration cache of one key may hold (4 bytes each). */
export const VISITED_WORDS_MAX = 1 << 26;

/** Search time when the caller names none: long enough for any history the tests produce. */
export const CHECK_BUDGET_MS_DEFAULT = 30_000;

/** Search steps between two clock readings: reading the clock costs more than a step. */
export const BUDGET_CHECK_INTERVAL_STEPS = 1 << 10;

/** Most register values an illegal report names as what the key could hold instead. */
export const REPORTED_VALUES_MAX = 4;

/** Most operations an explanation lists; the window itself is never truncated. */
export const EXPLAINED_OPERATIONS_MAX = 40;

/** Longest value an explanation prints whole; a longer one is shown as its head and tail. */
export const EXPLAINED_VALUE_CHARS_MAX = 80;

// Every put value and get output of one key is interned, plus "" for the missing key.
assert(
  HISTORY_OPERATIONS_MAX + 1 < KEY_STATES_MAX,
  "KEY_STATES_MAX must hold every input value of the largest history",
);
// An append transition is memoised under state * operationCount + operationIndex.
assert(
  KEY_STATES_MAX * HISTORY_OPERATIONS_MAX <= Number.MAX_SAFE_INTEGER,
  "KEY_STATES_MAX * HISTORY_OPERATIONS_MAX must be a safe integer (append transition keys)",
);
// The visited cache keys a state id and a one-bit flag in one 32-bit integer.
assert(KEY_STATES_MAX <= 1 << 30, "KEY_STATES_MAX * 2 must fit a 31-bit integer");
assert(
  EXPLAINED_VALUE_CHARS_MAX >= 20,
  "EXPLAINED_VALUE_CHARS_MAX must leave room for head and tail",
);

/**
 * Most event entries the search looks ahead after each step for a get the value can no longer
 * grow into (search.ts): enough to cover the operations of every client in flight.
 */
export const LOOKAHEAD_ENTRIES_MAX = 64;
