/**
 * A small metrics registry rendered in the Prometheus text exposition format (version 0.0.4).
 * Counters, gauges and fixed-bucket histograms, each optionally labelled. Updating a metric
 * is a map lookup and an addition: cheap enough for the ready loop.
 */

import { assert } from "./assert.ts";

type Labels = Readonly<Record<string, string>>;

/** A metric's samples as Prometheus text lines. */
interface Renderable {
  render(out: string[]): void;
}

function labelKey(labels: Labels | undefined): string {
  if (labels === undefined) return "";
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "";
  return `{${keys.map((key) => `${key}="${escapeLabel(labels[key]!)}"`).join(",")}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** A monotonically increasing count; kept here, or read when scraped from a count kept elsewhere. */
export class Counter implements Renderable {
  readonly #values = new Map<string, number>();
  #collect: (() => number) | null = null;
  constructor(readonly name: string, readonly help: string) {}

  /** Reads the (unlabelled) total at scrape time, for a count the service keeps itself. */
  collect(read: () => number): this {
    assert(this.#values.size === 0, () => `Counter ${this.name} is both kept and collected`);
    this.#collect = read;
    return this;
  }

  inc(amount = 1, labels?: Labels): void {
    assert(amount >= 0, () => `Counter ${this.name} cannot decrease (${amount})`);
    assert(this.#collect === null, () => `Counter ${this.name} is collected, not incremented`);
    const key = labelKey(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + amount);
  }

  value(labels?: Labels): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    if (this.#collect !== null) {
      const total = this.#collect();
      assert(total >= 0, () => `Counter ${this.name} read a negative total (${total})`);
      out.push(`${this.name} ${formatNumber(total)}`);
      return;
    }
    if (this.#values.size === 0) out.push(`${this.name} 0`);
    for (const [key, value] of this.#values) out.push(`${this.name}${key} ${formatNumber(value)}`);
  }
}

/** A value that goes up and down; may be computed when scraped. */
export class Gauge implements Renderable {
  readonly #values = new Map<string, number>();
  #collect: (() => number) | null = null;
  #collectByLabel: {
    readonly label: string;
    readonly read: () => Readonly<Record<string, number>>;
  } | null = null;
  constructor(readonly name: string, readonly help: string) {}

  set(value: number, labels?: Labels): void {
    this.#values.set(labelKey(labels), value);
  }

  /** Computes the (unlabelled) value at scrape time. */
  collect(read: () => number): this {
    this.#collect = read;
    return this;
  }

  /**
   * Computes one sample per value of `label` at scrape time: `read` answers the value of each,
   * e.g. `{ serving: 3, pulling: 0 }` for `label` "state".
   */
  collectByLabel(label: string, read: () => Readonly<Record<string, number>>): this {
    this.#collectByLabel = { label, read };
    return this;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`);
    if (this.#collect !== null) out.push(`${this.name} ${formatNumber(this.#collect())}`);
    if (this.#collectByLabel !== null) {
      const { label, read } = this.#collectByLabel;
      for (const [value, sample] of Object.entries(read())) {
        out.push(`${this.name}${labelKey({ [label]: value })} ${formatNumber(sample)}`);
      }
    }
    for (const [key, value] of this.#values) out.push(`${this.name}${key} ${formatNumber(value)}`);
  }
}

/** Observations counted into fixed, increasing bucket bounds. */
export class Histogram implements Renderable {
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(readonly name: string, readonly help: string, bounds: readonly number[]) {
    assert(bounds.length > 0, "A histogram needs buckets");
    for (let k = 1; k < bounds.length; k++) {
      assert(bounds[k]! > bounds[k - 1]!, "Histogram bounds must increase");
    }
    this.#bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    for (let k = 0; k < this.#bounds.length; k++) {
      if (value <= this.#bounds[k]!) {
        this.#counts[k]!++;
        return;
      }
    }
  }

  get count(): number {
    return this.#count;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    let cumulative = 0;
    for (let k = 0; k < this.#bounds.length; k++) {
      cumulative += this.#counts[k]!;
      out.push(`${this.name}_bucket{le="${formatNumber(this.#bounds[k]!)}"} ${cumulative}`);
    }
    out.push(`${this.name}_bucket{le="+Inf"} ${this.#count}`);
    out.push(`${this.name}_sum ${formatNumber(this.#sum)}`, `${this.name}_count ${this.#count}`);
  }
}

/** Latency buckets in milliseconds, from 50 µs to 10 s. */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1000,
  2500,
  10000,
];

/** The metrics of one process. */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Renderable>();

  counter(name: string, help: string): Counter {
    return this.#add(name, new Counter(name, help));
  }

  gauge(name: string, help: string): Gauge {
    return this.#add(name, new Gauge(name, help));
  }

  histogram(name: string, help: string, bounds: readonly number[] = LATENCY_BUCKETS_MS): Histogram {
    return this.#add(name, new Histogram(name, help, bounds));
  }

  /** The whole registry in the Prometheus text format. */
  render(): string {
    const out: string[] = [];
    for (const metric of this.#metrics.values()) metric.render(out);
    return out.join("\n") + "\n";
  }

  #add<T extends Renderable>(name: string, metric: T): T {
    assert(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name), () => `Invalid metric name ${name}`);
    assert(!this.#metrics.has(name), () => `Metric ${name} registered twice`);
    this.#metrics.set(name, metric);
    return metric;
  }
}
