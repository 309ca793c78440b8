/**
 * Structured logging: one JSON object a line (for machines), or a readable line on a TTY.
 * Components take a {@link Logger} and add their own fields with `child`; nothing logs
 * through `console` directly, so tests can capture or silence logs.
 */

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Extra fields of a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

const LEVEL_RANK: Readonly<Record<LogLevel, number>> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
} satisfies Record<
  LogLevel,
  number
>;

/** A structured logger. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Where lines go and how they look. */
export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: "json" | "text";
  /** Writes one finished line (without the newline). */
  readonly write: (line: string) => void;
  /** Time source for the `time` field (injected so tests are deterministic). */
  readonly now?: () => Date;
}

/** A logger that formats lines and writes them through `options.write`. */
export function createLogger(options: LoggerOptions, fields: LogFields = {}): Logger {
  const threshold = LEVEL_RANK[options.level];
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, message: string, extra: LogFields | undefined) => {
    if (LEVEL_RANK[level] < threshold) return;
    const all = extra === undefined ? fields : { ...fields, ...extra };
    const time = now().toISOString();
    options.write(
      options.format === "json"
        ? jsonLine(time, level, message, all)
        : textLine(time, level, message, all),
    );
  };
  return {
    debug: (message, extra) => emit("debug", message, extra),
    info: (message, extra) => emit("info", message, extra),
    warn: (message, extra) => emit("warn", message, extra),
    error: (message, extra) => emit("error", message, extra),
    child: (extra) => createLogger(options, { ...fields, ...extra }),
  };
}

/** A logger that drops everything (for tests and library users who bring none). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/** A logger that keeps lines in memory, for tests that assert on what was logged. */
export function memoryLogger(
  level: LogLevel = "debug",
): { logger: Logger; lines: { level: LogLevel; message: string; fields: LogFields }[] } {
  const lines: { level: LogLevel; message: string; fields: LogFields }[] = [];
  const make = (fields: LogFields): Logger => {
    const emit = (lineLevel: LogLevel, message: string, extra?: LogFields) => {
      if (LEVEL_RANK[lineLevel] >= LEVEL_RANK[level]) {
        lines.push({ level: lineLevel, message, fields: { ...fields, ...extra } });
      }
    };
    return {
      debug: (message, extra) => emit("debug", message, extra),
      info: (message, extra) => emit("info", message, extra),
      warn: (message, extra) => emit("warn", message, extra),
      error: (message, extra) => emit("error", message, extra),
      child: (extra) => make({ ...fields, ...extra }),
    };
  };
  return { logger: make({}), lines };
}

function jsonLine(time: string, level: LogLevel, message: string, fields: LogFields): string {
  return JSON.stringify(
    { time, level, msg: message, ...fields },
    (_key, value) => (typeof value === "bigint" ? value.toString() : value),
  );
}

function textLine(time: string, level: LogLevel, message: string, fields: LogFields): string {
  const parts = [time.slice(11, 23), level.toUpperCase().padEnd(5), message];
  for (const [key, value] of Object.entries(fields)) {
    parts.push(`${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  }
  return parts.join(" ");
}
