// Minimal pino-compatible logger interface used until `@otp-chat/actor` exports its own `Logger`
// and default logger; then this file should re-export those instead (see the package README).

/** One log method: pino's `(obj, msg?)` shape. */
export type LogFn = (obj: object, msg?: string) => void;

/** The subset of a pino logger this package calls. */
export interface Logger {
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
}

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;

function writer(level: keyof typeof LEVELS): LogFn {
  const num = LEVELS[level];
  return (obj, msg) => {
    const record: Record<string, unknown> = { level: num, time: Date.now(), ...obj };
    if (msg !== undefined) record.msg = msg;
    const err = record.err;
    if (err instanceof Error) record.err = { type: err.name, message: err.message, stack: err.stack };
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ level: num, time: record.time, msg, unserialisable: true });
    }
    process.stderr.write(line + '\n');
  };
}

const noop: LogFn = () => {};

/**
 * Default logger: warnings and errors as pino-style JSON lines on stderr, debug and info dropped.
 * Replaced by the actor package's pino default once it exists.
 */
export const defaultLogger: Logger = {
  debug: noop,
  info: noop,
  warn: writer('warn'),
  error: writer('error'),
};

/** Describes a handler for logs and events: its function name, or `<anonymous>`. */
export function handlerName(fn: Function): string {
  return fn.name === '' ? '<anonymous>' : fn.name;
}
