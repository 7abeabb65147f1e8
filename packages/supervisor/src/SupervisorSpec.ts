import type { ActorName } from '@otp-chat/actor';
import { type AutoShutdown, type ChildSpec, checkChildSpec, type NormalizedChildSpec } from './ChildSpec.ts';
import { DEFAULTS } from './DEFAULTS.ts';
import { InvalidChildSpecError, InvalidSupervisorFlagsError } from './errors.ts';
import type { SupervisorListener } from './SupervisorEvent.ts';

/** OTP's restart strategies. */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one' | 'simple_one_for_one';

/**
 * Restart backoff: **an extension, not OTP** (OTP restarts at once; erlang/otp#1287 and EEP #28
 * proposed delays and were not merged). Off unless given. Restart n within the intensity window
 * waits `min(maxMs, initialMs * factor^(n-1))` ms on the system clock. Intensity is still counted
 * when the child ends, so a crash loop still escalates.
 */
export interface BackoffOptions {
  /** @default 100 */
  readonly initialMs?: number;
  /** @default 2 */
  readonly factor?: number;
  /** @default 10000 */
  readonly maxMs?: number;
}

/**
 * What a supervisor is: its flags (OTP's `sup_flags()`) and its children (the `init/1` result).
 * For `simple_one_for_one`, `children` holds exactly one template spec.
 */
export interface SupervisorSpec {
  /** @default 'one_for_one' */
  readonly strategy?: Strategy;
  /** Maximum restarts within `period` (MaxR). @default 1 */
  readonly intensity?: number;
  /** The window in **seconds** (MaxT), OTP's whole-second granularity, inclusive. @default 5 */
  readonly period?: number;
  /** @default 'never' */
  readonly autoShutdown?: AutoShutdown;
  /** Child specs, started in this order and stopped in reverse. */
  readonly children: readonly ChildSpec[];
  /** Register the supervisor under this name. */
  readonly name?: ActorName;
  /** A label for logs and events when the supervisor has no string name. */
  readonly label?: string;
  /** Receives every {@link SupervisorEvent} of this supervisor. */
  readonly onEvent?: SupervisorListener;
  /** Opt-in restart backoff (not OTP). @default undefined (off) */
  readonly backoff?: BackoffOptions;
}

/** A spec with every default filled in and every child checked. */
export interface NormalizedSupervisorSpec {
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly period: number;
  readonly autoShutdown: AutoShutdown;
  readonly children: readonly NormalizedChildSpec[];
  readonly name: ActorName | undefined;
  readonly label: string | undefined;
  readonly onEvent: SupervisorListener | undefined;
  readonly backoff: Required<BackoffOptions> | undefined;
}

const STRATEGIES: readonly string[] = ['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one'];
const AUTO: readonly string[] = ['never', 'any_significant', 'all_significant'];

/**
 * Validates flags and child specs and fills in defaults (OTP's `check_flags` and
 * `check_startspec`). Throws {@link InvalidSupervisorFlagsError} or {@link InvalidChildSpecError}.
 */
export function checkSupervisorSpec(spec: SupervisorSpec): NormalizedSupervisorSpec {
  if (spec === null || typeof spec !== 'object') {
    throw new InvalidSupervisorFlagsError('children', spec, 'a supervisor spec must be an object');
  }
  const strategy = spec.strategy ?? DEFAULTS.strategy;
  if (!STRATEGIES.includes(strategy)) {
    throw new InvalidSupervisorFlagsError('strategy', strategy, `one of ${STRATEGIES.join(', ')}`);
  }
  const intensity = spec.intensity ?? DEFAULTS.intensity;
  if (!Number.isInteger(intensity) || intensity < 0) {
    throw new InvalidSupervisorFlagsError('intensity', intensity, 'an integer >= 0');
  }
  const period = spec.period ?? DEFAULTS.period;
  if (!Number.isInteger(period) || period <= 0) {
    throw new InvalidSupervisorFlagsError('period', period, 'an integer number of seconds > 0');
  }
  const autoShutdown = spec.autoShutdown ?? DEFAULTS.autoShutdown;
  if (!AUTO.includes(autoShutdown)) {
    throw new InvalidSupervisorFlagsError('autoShutdown', autoShutdown, `one of ${AUTO.join(', ')}`);
  }
  if (!Array.isArray(spec.children)) {
    throw new InvalidSupervisorFlagsError('children', spec.children, 'an array of child specs');
  }
  if (strategy === 'simple_one_for_one' && spec.children.length !== 1) {
    throw new InvalidSupervisorFlagsError(
      'children',
      spec.children.length,
      'simple_one_for_one takes exactly one template child spec',
    );
  }
  const seen = new Set<string>();
  const children = spec.children.map((child) => {
    const normalized = checkChildSpec(child, autoShutdown);
    if (seen.has(normalized.id)) {
      throw new InvalidChildSpecError('id', normalized.id, normalized.id, 'duplicate child id');
    }
    seen.add(normalized.id);
    return normalized;
  });
  let backoff: Required<BackoffOptions> | undefined;
  if (spec.backoff !== undefined) {
    backoff = { ...DEFAULTS.backoff, ...spec.backoff };
    if (
      !(backoff.initialMs >= 0) ||
      !(backoff.factor >= 1) ||
      !(backoff.maxMs >= backoff.initialMs) ||
      !Number.isFinite(backoff.maxMs)
    ) {
      throw new InvalidSupervisorFlagsError(
        'backoff',
        spec.backoff,
        'initialMs >= 0, factor >= 1, finite maxMs >= initialMs',
      );
    }
  }
  return {
    strategy,
    intensity,
    period,
    autoShutdown,
    children,
    name: spec.name,
    label: spec.label ?? (typeof spec.name === 'string' ? spec.name : undefined),
    onEvent: spec.onEvent,
    backoff,
  };
}
