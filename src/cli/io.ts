/**
 * Where the CLI writes. Commands take a {@link CliIo} instead of touching Deno.stdout, so
 * tests run them in-process and read what they printed.
 */

/** The CLI's output streams. Each call writes `text` as is (add the "\n" yourself). */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** A {@link CliIo} on the process's real stdout and stderr. */
export function consoleIo(): CliIo {
  const encoder = new TextEncoder();
  const writeAll = (stream: { writeSync(bytes: Uint8Array): number }, text: string): void => {
    let bytes = encoder.encode(text);
    while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
  };
  return {
    stdout: (text) => writeAll(Deno.stdout, text),
    stderr: (text) => writeAll(Deno.stderr, text),
  };
}
