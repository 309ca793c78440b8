/**
 * Seeds CI runs on every change (STYLE.md #8): a contiguous block for breadth, plus every
 * seed that ever failed, with what it found. A seed replays exactly only while the fault
 * mix it draws (random_run.ts) keeps its shape; when that changes, keep the seeds anyway:
 * they still run, and the notes say what to look for.
 */

/** Seeds that once failed, and why. All pass now. */
export const REGRESSION_SEEDS: readonly { seed: number; found: string }[] = [
  {
    seed: 821,
    found:
      "livelock with PreVote off: a stale-log candidate's vote requests reset the timers of up-to-date servers",
  },
  {
    seed: 865,
    found: "liveness bound missed: one-entry windows with an unbounded backlog (mix now bounds it)",
  },
  { seed: 873, found: "liveness bound missed: one-entry windows with an unbounded backlog" },
  { seed: 911, found: "liveness bound missed: one-entry windows with an unbounded backlog" },
  { seed: 1111, found: "liveness bound missed: one-entry windows, 20 ms fsync" },
  { seed: 1180, found: "liveness bound missed: one-entry windows, asymmetric links" },
];

/** The seeds CI runs. */
export const FIXED_SEEDS: readonly number[] = [
  ...Array.from({ length: 150 }, (_, k) => k + 1),
  ...REGRESSION_SEEDS.map((entry) => entry.seed),
];
