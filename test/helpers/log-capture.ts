import type { DestinationStream } from 'pino';

/** One log line as pino wrote it, and its parsed JSON (undefined if the line is not JSON). */
export interface CapturedLine {
  readonly raw: string;
  readonly record: Record<string, unknown> | undefined;
}

/**
 * A pino destination that keeps every line in memory, for tests that read the logs
 * (`createLogger({ level: 'debug' }, capture)`). Writes are split on newlines, so one
 * forged line inside a value would show up as an extra line here.
 */
export interface LogCapture extends DestinationStream {
  readonly lines: readonly CapturedLine[];
  /** Everything written, as one string. */
  text(): string;
  /** Parsed records whose `msg` matches. */
  find(msg: string | RegExp): Record<string, unknown>[];
  clear(): void;
}

export function createLogCapture(): LogCapture {
  const lines: CapturedLine[] = [];
  let pending = '';
  return {
    lines,
    write(chunk: string) {
      pending += chunk;
      let index = pending.indexOf('\n');
      while (index !== -1) {
        const raw = pending.slice(0, index);
        pending = pending.slice(index + 1);
        if (raw.length > 0) lines.push({ raw, record: parse(raw) });
        index = pending.indexOf('\n');
      }
    },
    text() {
      return lines.map((l) => l.raw).join('\n') + (pending ? `\n${pending}` : '');
    },
    find(msg) {
      return lines
        .map((l) => l.record)
        .filter((r): r is Record<string, unknown> => r !== undefined && typeof r.msg === 'string' && (typeof msg === 'string' ? r.msg === msg : msg.test(r.msg)));
    },
    clear() {
      lines.length = 0;
      pending = '';
    },
  };
}

function parse(raw: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
