/**
 * Typed, path-aware reading of one TOML table. Every accessor records a problem with the
 * full key path (`groups[1].replicas[0].raft: ...`) instead of throwing, so one pass over
 * the document reports every mistake at once (STYLE.md #13). `finish()` turns every key
 * that no accessor asked for into an "unknown key" problem: that is the typo protection.
 */

/** Shared by every reader of one document: the problems found and the keys the schema asks for. */
export interface ReadContext {
  readonly problems: string[];
  /** Key paths with array indices removed (`groups.replicas.raft`): the schema's key list. */
  readonly schemaKeys: Set<string>;
}

/** Bounds for {@link TableReader.integer}. `also` lists extra accepted values (like -1). */
export interface IntegerRule {
  readonly default?: number;
  readonly min: number;
  readonly max: number;
  readonly also?: readonly number[];
  readonly unit?: "bytes";
}

/** Rules for {@link TableReader.string}. A string without a default is required. */
export interface StringRule {
  readonly default?: string;
  readonly minLength?: number;
  readonly maxLength: number;
  readonly pattern?: RegExp;
  /** Says what a valid value looks like, for the problem message. */
  readonly expected: string;
  /** Keep the value out of problem messages (secrets). */
  readonly secret?: boolean;
}

type Table = Record<string, unknown>;

/** Reads the keys of one table; see the module comment. */
export class TableReader {
  readonly path: string;
  readonly #table: Table;
  readonly #context: ReadContext;
  readonly #asked = new Set<string>();
  readonly #invalid = new Set<string>();

  constructor(table: Table, path: string, context: ReadContext) {
    this.#table = table;
    this.path = path;
    this.#context = context;
  }

  /** The full key path of `key` in this table, as the problem messages print it. */
  keyPath(key: string): string {
    return this.path === "" ? key : `${this.path}.${key}`;
  }

  /** Whether the key is present in the document. */
  has(key: string): boolean {
    return Object.hasOwn(this.#table, key);
  }

  /** Whether `key` was read without a problem (relations between keys check this first). */
  isValid(key: string): boolean {
    return this.#asked.has(key) && !this.#invalid.has(key);
  }

  /** Records a problem for `key` and marks it invalid. */
  problem(key: string, message: string): void {
    this.#invalid.add(key);
    this.#context.problems.push(`${this.keyPath(key)}: ${message}`);
  }

  /** Records a problem for a full key path elsewhere in the document (cross-table rules). */
  problemAt(path: string, message: string): void {
    this.#context.problems.push(`${path}: ${message}`);
  }

  /** Reads a string; without a default the key is required. Invalid values return "". */
  string(key: string, rule: StringRule): string {
    const value = this.#take(key);
    if (value === undefined) {
      if (rule.default !== undefined) return rule.default;
      this.problem(key, `is required: ${rule.expected}`);
      return "";
    }
    if (typeof value !== "string") {
      this.problem(key, `must be ${rule.expected}, got ${describeValue(value)}`);
      return "";
    }
    const shown = rule.secret === true ? `a string of ${value.length} characters` : `"${value}"`;
    const tooShort = value.length < (rule.minLength ?? 1);
    if (tooShort || value.length > rule.maxLength || (rule.pattern?.test(value) === false)) {
      this.problem(key, `must be ${rule.expected}, got ${shown}`);
      return "";
    }
    return value;
  }

  /** Reads an integer in `[min, max]` (or one of `also`). Invalid values return the minimum. */
  integer(key: string, rule: IntegerRule): number {
    const value = this.#take(key);
    const fallback = rule.default ?? rule.min;
    if (value === undefined) {
      if (rule.default !== undefined) return rule.default;
      this.problem(key, `is required: an integer in ${describeRange(rule)}`);
      return fallback;
    }
    if (typeof value !== "bigint") {
      this.problem(
        key,
        `must be an integer in ${describeRange(rule)}, got ${describeValue(value)}`,
      );
      return fallback;
    }
    const number = Number(value);
    const inRange = number >= rule.min && number <= rule.max;
    if (!inRange && !(rule.also ?? []).includes(number)) {
      this.problem(key, `must be in ${describeRange(rule)}, got ${value}`);
      return fallback;
    }
    return number;
  }

  /** Reads a boolean with a default. */
  boolean(key: string, defaultValue: boolean): boolean {
    const value = this.#take(key);
    if (value === undefined) return defaultValue;
    if (typeof value !== "boolean") {
      this.problem(key, `must be true or false, got ${describeValue(value)}`);
      return defaultValue;
    }
    return value;
  }

  /** Reads one of a fixed set of strings. */
  choice<T extends string>(key: string, choices: readonly T[], defaultValue: T): T {
    const value = this.#take(key);
    if (value === undefined) return defaultValue;
    const found = choices.find((choice) => choice === value);
    if (found === undefined) {
      const expected = choices.map((choice) => `"${choice}"`).join(", ");
      this.problem(key, `must be one of ${expected}, got ${describeValue(value)}`);
      return defaultValue;
    }
    return found;
  }

  /**
   * Reads a sub-table. An absent table reads as empty, so its keys take their defaults; a
   * key holding something else is a problem and also reads as empty.
   */
  table(key: string): TableReader {
    const value = this.#take(key);
    if (value !== undefined && !isTable(value)) {
      this.problem(key, `must be a table, got ${describeValue(value)}`);
    }
    const table = value !== undefined && isTable(value) ? value : {};
    return new TableReader(table, this.keyPath(key), this.#context);
  }

  /** Reads an array of tables (`[[groups]]` or `[{...}, {...}]`); absent reads as `[]`. */
  tables(key: string, itemsMax: number): TableReader[] {
    const value = this.#take(key);
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      this.problem(key, `must be an array of tables, got ${describeValue(value)}`);
      return [];
    }
    if (value.length > itemsMax) {
      this.problem(key, `has ${value.length} entries, at most ${itemsMax} are allowed`);
      return [];
    }
    const readers: TableReader[] = [];
    value.forEach((item: unknown, index) => {
      const path = `${this.keyPath(key)}[${index}]`;
      if (isTable(item)) {
        readers.push(new TableReader(item, path, this.#context));
      } else {
        this.#invalid.add(key);
        this.#context.problems.push(`${path}: must be a table, got ${describeValue(item)}`);
      }
    });
    return readers;
  }

  /** Reports every key of this table that no accessor asked for. Call after reading. */
  finish(): void {
    const known = [...this.#asked];
    for (const key of Object.keys(this.#table)) {
      if (this.#asked.has(key)) continue;
      const suggestion = closest(key, known);
      const hint = suggestion === undefined
        ? `known keys: ${known.join(", ")}`
        : `did you mean "${suggestion}"?`;
      this.#context.problems.push(`${this.keyPath(key)}: unknown key (${hint})`);
    }
  }

  #take(key: string): unknown {
    this.#asked.add(key);
    this.#context.schemaKeys.add(this.keyPath(key).replace(/\[\d+\]/g, ""));
    return this.has(key) ? this.#table[key] : undefined;
  }
}

/** Whether a parsed TOML value is a table (not an array, date or primitive). */
export function isTable(value: unknown): value is Table {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === null || prototype === Object.prototype;
}

/** Describes a parsed TOML value for a problem message: `string "50"`, `float 1.5`. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  if (typeof value === "bigint") return `integer ${value}`;
  if (typeof value === "number") return `float ${value}`;
  if (typeof value === "boolean") return `boolean ${value}`;
  if (Array.isArray(value)) return "an array";
  if (isTable(value)) return "a table";
  return `a date (${String(value)})`;
}

function describeRange(rule: IntegerRule): string {
  const show = (value: number): string => rule.unit === "bytes" ? describeBytes(value) : `${value}`;
  const also = (rule.also ?? []).map((value) => ` or ${value}`).join("");
  return `${show(rule.min)}..${show(rule.max)}${also}`;
}

/** `65536` → `65536 (64 KiB)`; values that are not whole KiB/MiB/GiB print plainly. */
export function describeBytes(value: number): string {
  const units: [number, string][] = [[1024 ** 3, "GiB"], [1024 ** 2, "MiB"], [1024, "KiB"]];
  for (const [size, unit] of units) {
    if (value >= size && value % size === 0) return `${value} (${value / size} ${unit})`;
  }
  return `${value}`;
}

/** The known key within edit distance 2 of `key`, if exactly one is closest. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
