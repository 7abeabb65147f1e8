import type { ActorRef, ExitReason } from '@otp-chat/actor';

/** Fields every {@link SupervisorEvent} carries. */
export interface SupervisorEventBase {
  /** The supervisor that emitted the event. */
  readonly supervisor: ActorRef;
  /** The supervisor's registered name, or the `label` of its spec, if any. */
  readonly supervisorName: string | undefined;
}

/**
 * What a supervisor reports, as a typed union: every start, restart, start failure, child exit,
 * intensity exhaustion and shutdown is emitted (to `onEvent` and every listener) and logged through
 * the actor system's logger, so a crash loop is always visible. OTP's progress and error reports
 * (`report_progress`, `report_error(child_terminated | start_error | shutdown | shutdown_error)`).
 */
export type SupervisorEvent = SupervisorEventBase &
  (
    | {
        /** A child started (OTP's progress report): at init, by `startChild`/`restartChild`, or by a restart. */
        readonly type: 'child_started';
        readonly id: string;
        readonly ref: ActorRef;
      }
    | {
        /** A child ended by itself (OTP's `child_terminated` report; clean exits are reported too). */
        readonly type: 'child_terminated';
        readonly id: string;
        readonly ref: ActorRef;
        readonly reason: ExitReason;
        /** What the supervisor does about it. */
        readonly action: 'restart' | 'remove' | 'keep';
      }
    | {
        /** A child was restarted after it ended (or after a failed attempt). */
        readonly type: 'child_restarted';
        readonly id: string;
        readonly ref: ActorRef;
        /** The ref of the child that ended, if it had one. */
        readonly previous: ActorRef | undefined;
        /** How many restarts are in the intensity window now (this one included). */
        readonly restartsInWindow: number;
      }
    | {
        /** A start function returned `{ error }` or threw (OTP's `start_error` report). */
        readonly type: 'child_start_failed';
        readonly id: string;
        readonly reason: unknown;
        readonly during: 'init' | 'start_child' | 'restart_child' | 'restart';
      }
    | {
        /** A child stopped by the supervisor ended with an unexpected reason (OTP's `shutdown_error`). */
        readonly type: 'child_shutdown_error';
        readonly id: string;
        readonly ref: ActorRef;
        readonly reason: ExitReason;
      }
    | {
        /** The supervisor stopped a child (terminate_child, a sibling restart, or its own shutdown). */
        readonly type: 'child_stopped';
        readonly id: string;
        readonly ref: ActorRef;
        readonly reason: ExitReason;
        /** True when the shutdown timeout expired and the child was killed. */
        readonly killed: boolean;
      }
    | {
        /** More than `intensity` restarts within `period` (OTP's `reached_max_restart_intensity`). */
        readonly type: 'intensity_exceeded';
        readonly id: string;
        readonly restarts: number;
        readonly intensity: number;
        readonly period: number;
      }
    | {
        /** A restart is delayed by the backoff extension (not OTP). */
        readonly type: 'restart_delayed';
        readonly id: string;
        readonly delayMs: number;
      }
    | {
        /** A significant child ended and `autoShutdown` makes the supervisor stop. */
        readonly type: 'auto_shutdown';
        readonly id: string;
      }
    | {
        /** The supervisor itself is stopping (all children are being terminated). */
        readonly type: 'supervisor_shutdown';
        readonly reason: ExitReason;
      }
  );

/** The `type` of every {@link SupervisorEvent}. */
export type SupervisorEventType = SupervisorEvent['type'];

/** Receives supervisor events; a listener that throws is logged and ignored. */
export type SupervisorListener = (event: SupervisorEvent) => void;
