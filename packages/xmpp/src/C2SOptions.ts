import type { MaybePromise } from '@otp-chat/actor';
import type { Jid } from '@otp-chat/jid';
import type { ScramMechanism } from './Scram.ts';

/** `resource_conflict` (`ejabberd_c2s:resource_conflict_action/3`). */
export type ResourceConflict = 'setresource' | 'closeold' | 'closenew' | 'acceptnew';

/** The SASL mechanisms the C2S can offer. */
export type SaslMechanism = ScramMechanism | 'PLAIN';

/** The `c2s` access rule: `allow` or `deny` for a user binding from an address (`ejabberd_c2s:bind/2`). */
export type AccessRule = (jid: Jid, ip: string) => MaybePromise<'allow' | 'deny'>;

/** Per-connection options of the C2S listener (ejabberd's listener options). */
export interface C2SOptions {
  /** @default DEFAULTS.maxStanzaSize */
  readonly maxStanzaSize: number;
  /** @default DEFAULTS.shaperBytesPerSecond */
  readonly shaperBytesPerSecond: number;
  /** @default DEFAULTS.shaperBurstBytes */
  readonly shaperBurstBytes: number;
  /** @default DEFAULTS.maxAuthFailures */
  readonly maxAuthFailures: number;
  /** @default DEFAULTS.resourceConflict */
  readonly resourceConflict: ResourceConflict;
  /** @default DEFAULTS.negotiationTimeoutMs */
  readonly negotiationTimeoutMs: number;
  /**
   * Offered in this order, on each stream those it can do: `-PLUS` only over TLS, SHA-256 and
   * SHA-512 only when the user store has those keys, PLAIN only over TLS unless
   * {@link allowPlainWithoutTls}. @default DEFAULTS.mechanisms
   */
  readonly mechanisms: readonly SaslMechanism[];
  /** Offer PLAIN on unencrypted streams too (a demo, a loopback test). @default false */
  readonly allowPlainWithoutTls: boolean;
  /** @default allow everyone */
  readonly access: AccessRule;
  /** @default DEFAULTS.preAuthMaxStanzaSize */
  readonly preAuthMaxStanzaSize: number;
  /** @default DEFAULTS.maxStanzaElements */
  readonly maxStanzaElements: number;
  /** @default DEFAULTS.preAuthMaxStanzaElements */
  readonly preAuthMaxStanzaElements: number;
  /** @default DEFAULTS.maxElementDepth */
  readonly maxElementDepth: number;
  /** @default DEFAULTS.maxAttributes */
  readonly maxAttributes: number;
  /** @default DEFAULTS.maxNameLength */
  readonly maxNameLength: number;
  /** @default DEFAULTS.maxSendQueueBytes */
  readonly maxSendQueueBytes: number;
  /** @default DEFAULTS.maxPendingInputBytes */
  readonly maxPendingInputBytes: number;
  /** @default DEFAULTS.closeTimeoutMs */
  readonly closeTimeoutMs: number;
  /** XEP-0198 offered (`<sm xmlns='urn:xmpp:sm:3'/>` after SASL). */
  readonly streamManagement: boolean;
  /** How long a resumable session waits for its client after the connection dropped (`resume_timeout`). */
  readonly resumeTimeoutMs: number;
  /** Unacknowledged stanzas held per stream (`max_ack_queue`); beyond, the stream is closed. */
  readonly maxAckQueue: number;
}
