/** Printing benchmark results: an aligned table for people, one JSON line per row for tools. */

/** One row of a benchmark table. */
export type BenchRow = Readonly<Record<string, string | number>>;

/**
 * Prints `rows` as an aligned table under `title` (and the `about` lines, which describe the
 * setup), then each row as a JSON line whose `section` is `title`.
 */
export function printTable(
  title: string,
  rows: readonly BenchRow[],
  write: (line: string) => void = console.log,
  about: readonly string[] = [],
): void {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  const cells = rows.map((row) => columns.map((column) => formatCell(row[column])));
  const widths = columns.map((column, k) =>
    Math.max(column.length, ...cells.map((line) => line[k]!.length))
  );
  write(`\n${title}`);
  for (const line of about) write(`  ${line}`);
  write(columns.map((column, k) => column.padEnd(widths[k]!)).join("  "));
  write(widths.map((width) => "-".repeat(width)).join("  "));
  for (const line of cells) write(line.map((cell, k) => cell.padStart(widths[k]!)).join("  "));
  for (const row of rows) write(JSON.stringify({ section: title, ...row }));
}

function formatCell(value: string | number | undefined): string {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return value.toFixed(value < 10 ? 2 : 1);
}

/** The p-th percentile (0..100) of `values` (sorted copy, nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
