import { type ActorRef, ActorSystem, type ExitReason, formatReason, moduleLogger } from '@otp-chat/actor';
import { DEFAULTS } from './DEFAULTS.ts';
import { ApplicationStartError } from './errors.ts';
import { Supervisor } from './Supervisor.ts';
import type { SupervisorSpec } from './SupervisorSpec.ts';

/** The signals an application stops on. */
export type StopSignal = 'SIGINT' | 'SIGTERM';

/** Where signals come from: `process` by default; tests inject their own. */
export interface SignalSource {
  on(signal: StopSignal, listener: () => void): unknown;
  off(signal: StopSignal, listener: () => void): unknown;
}

/** Options of {@link Application.start}. */
export interface ApplicationOptions {
  /** The actor system to run the tree on. @default a new `ActorSystem()` */
  readonly system?: ActorSystem;
  /** Stop gracefully on SIGINT/SIGTERM, exit at once on a second one. @default true */
  readonly handleSignals?: boolean;
  /** @default process */
  readonly signals?: SignalSource;
  /** Called with `DEFAULTS.forcedExitCode` on a second signal. @default process.exit */
  readonly exit?: (code: number) => void;
}

/**
 * The application root (OTP's `application` master around the top supervisor): starts the tree,
 * stops it in reverse order, and turns SIGINT/SIGTERM into a graceful stop. A second signal while
 * stopping exits the process at once. The signal handlers are removed once the tree has stopped
 * (by `stop()`, a signal, or the root supervisor giving up), so later signals have Node's default
 * effect; the process ends when nothing else holds the event loop.
 *
 * @example
 * ```ts
 * const app = await Application.start({ children: [worker('chat', chatServer, config)] });
 * // … later, or on SIGINT/SIGTERM:
 * await app.stop();
 * ```
 */
export class Application {
  /** Resolves with the root supervisor's exit reason when the tree is gone, however it ended. */
  readonly stopped: Promise<ExitReason>;
  private stopping: Promise<void> | undefined;
  private removeSignalHandlers: (() => void) | undefined;

  private constructor(
    /** The system the tree runs on. */
    readonly system: ActorSystem,
    /** The root supervisor. */
    readonly root: ActorRef,
  ) {
    this.stopped = system.whenExit(root).then((reason) => {
      this.removeSignalHandlers?.();
      if (this.stopping === undefined) {
        moduleLogger(system.logger, 'application').error(
          { root: root.toString(), reason: formatReason(reason) },
          'application root exited',
        );
      }
      return reason;
    });
  }

  /**
   * Starts the root supervisor and resolves when every child is up (`application:start/1`).
   * Rejects with `ApplicationStartError` if the tree does not start, or with
   * `InvalidChildSpecError`/`InvalidSupervisorFlagsError` for an invalid spec.
   */
  static async start(rootSpec: SupervisorSpec, options: ApplicationOptions = {}): Promise<Application> {
    const system = options.system ?? new ActorSystem();
    const result = await Supervisor.start(system, rootSpec);
    if (result === 'ignore') throw new ApplicationStartError('ignore');
    if ('error' in result) throw new ApplicationStartError(result.error);
    const app = new Application(system, result.ok);
    if (options.handleSignals ?? DEFAULTS.handleSignals) {
      app.listen(options.signals ?? process, options.exit ?? ((code) => process.exit(code)));
    }
    moduleLogger(system.logger, 'application').info({ root: result.ok.toString() }, 'application started');
    return app;
  }

  /**
   * Stops the tree: the root's children in reverse start order, each by its shutdown spec, and
   * resolves when every `terminate` ran or its shutdown timed out. Calling it again returns the
   * same promise; after the root exited by itself it resolves at once.
   */
  stop(): Promise<void> {
    if (this.stopping === undefined) {
      if (!this.system.isAlive(this.root)) {
        this.stopping = this.stopped.then(() => undefined);
      } else {
        moduleLogger(this.system.logger, 'application').info(
          { root: this.root.toString() },
          'application stopping',
        );
        this.stopping = this.system.stop(this.root, 'shutdown').then(
          () => this.stopped.then(() => undefined),
          () => this.stopped.then(() => undefined), // it ended on its own meanwhile
        );
      }
    }
    return this.stopping;
  }

  private listen(signals: SignalSource, exit: (code: number) => void): void {
    let received = 0;
    const onSignal = (signal: StopSignal) => {
      received++;
      if (received === 1) {
        moduleLogger(this.system.logger, 'application').info(
          { signal },
          'signal received: stopping the application',
        );
        void this.stop();
      } else {
        moduleLogger(this.system.logger, 'application').warn({ signal }, 'second signal: exiting now');
        exit(DEFAULTS.forcedExitCode);
      }
    };
    const onInt = () => onSignal('SIGINT');
    const onTerm = () => onSignal('SIGTERM');
    signals.on('SIGINT', onInt);
    signals.on('SIGTERM', onTerm);
    this.removeSignalHandlers = () => {
      signals.off('SIGINT', onInt);
      signals.off('SIGTERM', onTerm);
      this.removeSignalHandlers = undefined;
    };
  }
}
