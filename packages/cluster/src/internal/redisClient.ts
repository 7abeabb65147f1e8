import type { Logger } from '@otp-chat/actor';
import { Redis, type RedisOptions } from 'ioredis';

/** Reconnection and connection settings of the cluster's clients. */
export interface ClientSettings {
  readonly url: string;
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly redisOptions?: RedisOptions;
}

/**
 * An ioredis client that fails fast while Redis is away (no offline queue, no retries per
 * request) and reconnects with exponential backoff for ever; the cluster decides what to retry.
 * Connection errors are logged once per outage.
 */
export function makeClient(
  settings: ClientSettings,
  role: string,
  logger: Logger,
  resubscribe = false,
): Redis {
  const { reconnectInitialMs: initial, reconnectMaxMs: max } = settings;
  const options: RedisOptions = {
    connectTimeout: settings.connectTimeoutMs,
    commandTimeout: settings.commandTimeoutMs,
    ...settings.redisOptions,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResubscribe: resubscribe,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times: number) => Math.min(initial * 2 ** Math.min(times - 1, 20), max),
  };
  const client = new Redis(settings.url, options as RedisOptions & { replyMapping?: 'legacy' });
  let failing = false;
  client.on('error', (error: Error) => {
    const level = failing ? 'debug' : 'warn';
    failing = true;
    logger[level]({ connection: role, err: error }, 'cluster: redis connection error');
  });
  client.on('ready', () => {
    failing = false;
  });
  return client;
}

/** Disconnects without waiting for Redis; resolves once the socket is closed. */
export function closeClient(client: Redis): Promise<void> {
  const status = client.status;
  if (status === 'end') return Promise.resolve();
  if (status === 'reconnecting' || status === 'close' || status === 'wait') {
    client.disconnect(false);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    client.once('end', () => resolve());
    client.disconnect(false);
    if (client.status === 'end') resolve();
  });
}
