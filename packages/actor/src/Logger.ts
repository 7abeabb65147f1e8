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
};
