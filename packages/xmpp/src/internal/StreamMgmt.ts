import { randomBytes } from 'node:crypto';
import type { ActorRef } from '@otp-chat/actor';
import { type Element, escapeXML } from '@xmpp/xml';

/** XEP-0198's namespace. */
export const NS_SM = 'urn:xmpp:sm:3';

const MOD = 2 ** 32;

/**
 * One stream's XEP-0198 state (ejabberd's `mod_stream_mgmt` keys in the c2s state): the counters
 * (`h` of what was handled from the client, the count of what was sent to it), the stanzas sent
 * and not yet acknowledged (in order, each with its number), and the resumption id.
 *
 * The id is `<resource in base64url>.<random token>`: the resuming connection finds the old one
 * through the session manager by the resource (`ejabberd_sm:get_session_pid/3`), and the old one
 * checks the token.
 */
export class StreamMgmt {
  /** Stanzas handled from the client (`mgmt_stanzas_in`), modulo 2^32. */
  hIn = 0;
  /** Stanzas sent to the client (`mgmt_stanzas_out`), modulo 2^32. */
  hOut = 0;
  /** Sent and not acknowledged, oldest first (`undefined`: an `sm_copy`, counted, never re-routed). */
  private unacked: (Element | undefined)[] = [];
  /** An `<r/>` is out and not answered yet. */
  ackRequested = false;
  readonly token: string;

  constructor(
    readonly resumable: boolean,
    token?: string,
  ) {
    this.token = token ?? randomBytes(12).toString('base64url');
  }

  /** The resumption id for a session bound to `resource`. */
  id(resource: string): string {
    return `${Buffer.from(resource).toString('base64url')}.${this.token}`;
  }

  /** The resource and token of an id, or `undefined` for one this server did not make. */
  static parseId(id: string): { readonly resource: string; readonly token: string } | undefined {
    const dot = id.indexOf('.');
    if (dot <= 0 || dot === id.length - 1) return undefined;
    const resource = Buffer.from(id.slice(0, dot), 'base64url').toString();
    return resource === '' ? undefined : { resource, token: id.slice(dot + 1) };
  }

  get queued(): number {
    return this.unacked.length;
  }

  /** A stanza from the client was handled. */
  handled(): void {
    this.hIn = (this.hIn + 1) % MOD;
  }

  /** A stanza goes to the client: counted, and kept until acknowledged unless `keep` is false. */
  sent(stanza: Element, keep: boolean): void {
    this.hOut = (this.hOut + 1) % MOD;
    this.unacked.push(keep ? stanza : undefined);
  }

  /**
   * The client acknowledged up to `h`: false when `h` is more than was sent (ejabberd ends the
   * stream then), else the acknowledged stanzas are dropped.
   */
  ack(h: number): boolean {
    if (!Number.isInteger(h) || h < 0 || h >= MOD) return false;
    // How many of the unacked stanzas `h` covers (counters wrap at 2^32).
    const sentSinceH = (this.hOut - h + MOD) % MOD;
    if (sentSinceH > this.unacked.length) {
      // Behind what was already acknowledged (a repeated ack: nothing to drop), or ahead of what
      // was sent (the difference wraps past half the range): the error.
      return sentSinceH < MOD / 2;
    }
    this.unacked.splice(0, this.unacked.length - sentSinceH);
    this.ackRequested = false;
    return true;
  }

  /** Removes and returns every unacknowledged stanza, oldest first. */
  take(): Element[] {
    const out: Element[] = [];
    for (const s of this.unacked) if (s !== undefined) out.push(s);
    this.unacked = [];
    return out;
  }
}

/** The call a resuming connection makes to the one that held the session (`mod_stream_mgmt`'s `resume_session`). */
export interface ResumeCall {
  readonly type: '$resume';
  readonly token: string;
  /** The client's `h`: what it received before the connection dropped. */
  readonly h: number;
  /** The resuming connection: stanzas that still reach the old one are forwarded to it. */
  readonly by: ActorRef;
}

/** What the old connection hands over. */
export type ResumeReply =
  | { readonly ok: false }
  | {
      readonly ok: true;
      readonly hIn: number;
      /** Sent and not acknowledged by the client's `h`, oldest first: sent again. */
      readonly queue: readonly Element[];
      readonly presence: Element | undefined;
      readonly priority: number | undefined;
      readonly info: Readonly<Record<string, unknown>>;
    };

export function isResumeCall(request: unknown): request is ResumeCall {
  return (
    typeof request === 'object' && request !== null && (request as { type?: unknown }).type === '$resume'
  );
}

/** `<failed xmlns='urn:xmpp:sm:3'>` with a stanza error condition. */
export function smFailed(condition: string): string {
  return `<failed xmlns='${NS_SM}'><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>`;
}

/** `<resumed/>` (XEP-0198 §5): the old stream's id and what the server had handled of it. */
export function smResumed(previd: string, h: number): string {
  return `<resumed xmlns='${NS_SM}' previd='${escapeXML(previd)}' h='${h}'/>`;
}
