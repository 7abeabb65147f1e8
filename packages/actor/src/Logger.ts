import { pino } from 'pino';

/**
 * The one logging interface of otp-chat: pino's call shape (`logger.error({ fields }, 'message')`),
 * so a pino logger can be passed as is and anything else can be adapted in a few lines.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /**
   * A logger that adds `bindings` to every record (pino's `child`). Optional: {@link childLogger}
   * binds them for a logger that has none.
   */
  child?(bindings: Record<string, unknown>): Logger;
}

/**
 * The default logger: pino on stdout, level from `OTP_CHAT_LOG_LEVEL` (then `LOG_LEVEL`), else `info`.
 * Created lazily so that importing the package costs nothing.
 */
export function defaultLogger(): Logger {
  cached ??= pino({
    name: 'otp-chat',
    level: process.env.OTP_CHAT_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'info',
  });
  return cached;
}
let cached: Logger | undefined;

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

/**
 * `logger.child(bindings)`; for a logger without `child`, one that adds `bindings` to each record
 * (a field of the record wins over a binding of the same name).
 */
export function childLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  if (typeof logger.child === 'function') return logger.child(bindings);
  const bind = (obj: object): object => ({ ...bindings, ...obj });
  return {
    debug: (obj, msg) => logger.debug(bind(obj), msg),
    info: (obj, msg) => logger.info(bind(obj), msg),
    warn: (obj, msg) => logger.warn(bind(obj), msg),
    error: (obj, msg) => logger.error(bind(obj), msg),
    child: (more) => childLogger(logger, { ...bindings, ...more }),
  };
}

/** Each module logger and the logger it was made from. */
const parents = new WeakMap<Logger, Logger>();
/** The module loggers made from a logger, by module. */
const byLogger = new WeakMap<Logger, Map<string, Logger>>();

/**
 * The logger of a component: `logger.child({ module })` (see {@link childLogger}), so every record
 * a component writes names it the same way (`module: 'session_manager'`, `'c2s'`, `'supervisor'`,
 * …). Made once per logger and module. Given a module logger, it binds the new module to the
 * logger that one was made from, so a record carries one `module`, the innermost component's.
 */
export function moduleLogger(logger: Logger, module: string): Logger {
  const parent = parents.get(logger) ?? logger;
  let modules = byLogger.get(parent);
  if (modules === undefined) {
    modules = new Map();
    byLogger.set(parent, modules);
  }
  let child = modules.get(module);
  if (child === undefined) {
    child = childLogger(parent, { module });
    parents.set(child, parent);
    modules.set(module, child);
  }
  return child;
}
