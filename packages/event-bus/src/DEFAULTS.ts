import type { CommandPolicy } from './Caller.ts';

/**
 * Every default of `@otp-chat/event-bus`, in one place.
 *
 * Differences from ejabberd are stated on each field.
 */
export const DEFAULTS = {
  /** The host name that selects the global hook list (ejabberd uses the atom `global`). */
  globalHost: 'global',
  /**
   * Most arguments (after the accumulator for folds) a hook may take. The runner passes them
   * positionally so that a run allocates nothing; ejabberd has no limit (handlers are `apply`d).
   */
  maxHookArgs: 6,
  /** Version of a command spec that gives none (ejabberd: `version = 0`). */
  commandVersion: 0,
  /** Policy of a command spec that gives none (ejabberd: `policy = restricted`). */
  commandPolicy: 'restricted' as CommandPolicy,
  /** Version asked for when `get` / `execute` give none (ejabberd: `1000000`). */
  latestCommandVersion: 1_000_000,
} as const;
