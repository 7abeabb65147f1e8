import { InvalidJidError } from './errors.ts';
import { caches, cachingEnabled } from './internal/caches.ts';
import { nameprep } from './nameprep.ts';
import { nodeprep } from './nodeprep.ts';
import { resourceprep } from './resourceprep.ts';

/**
 * An XMPP address, immutable, as ejabberd's `#jid{}`: the raw parts as given (`local`, `domain`,
 * `resource`) and the prepared parts (`luser`, `lserver`, `lresource`). An absent localpart or
 * resourcepart is `''`, as ejabberd's `<<>>`. Compare and key on the prepared parts.
 *
 * Build one with {@link parseJid} or {@link jid}; the constructor does not validate.
 */
export class Jid {
  /** Raw localpart (ejabberd `user`); `''` when absent. */
  readonly local: string;
  /** Raw domainpart (ejabberd `server`). */
  readonly domain: string;
  /** Raw resourcepart (ejabberd `resource`); `''` when absent. */
  readonly resource: string;
  /** Prepared localpart (nodeprep), ejabberd `luser`. */
  readonly luser: string;
  /** Prepared domainpart (nameprep), ejabberd `lserver`. */
  readonly lserver: string;
  /** Prepared resourcepart (resourceprep), ejabberd `lresource`. */
  readonly lresource: string;

  /** @internal Use {@link parseJid} or {@link jid}: this constructor trusts its arguments. */
  constructor(
    local: string,
    domain: string,
    resource: string,
    luser: string,
    lserver: string,
    lresource: string,
  ) {
    this.local = local;
    this.domain = domain;
    this.resource = resource;
    this.luser = luser;
    this.lserver = lserver;
    this.lresource = lresource;
    Object.freeze(this);
  }

  /** The bare JID (no resource), as ejabberd's `jid:remove_resource/1`; `this` when already bare. */
  bare(): Jid {
    if (this.resource === '') return this;
    return new Jid(this.local, this.domain, '', this.luser, this.lserver, '');
  }

  /** A JID with the same user and server and another resource (prepared), as `jid:replace_resource/2`. */
  withResource(resource: string): Jid {
    return new Jid(this.local, this.domain, resource, this.luser, this.lserver, resourceprep(resource));
  }

  /** True when there is no resourcepart. */
  isBare(): boolean {
    return this.resource === '';
  }

  /** Same prepared parts (`usr`), as ejabberd's `jid:equal/2`. */
  equals(other: Jid): boolean {
    return (
      this === other ||
      (this.luser === other.luser && this.lserver === other.lserver && this.lresource === other.lresource)
    );
  }

  /** The raw form, as ejabberd's `jid:encode/1`: `local@domain/resource`. */
  toString(): string {
    return format(this.local, this.domain, this.resource);
  }

  /** The prepared form `luser@lserver/lresource`, as `jid:encode(jid:tolower(J))`. */
  toPreparedString(): string {
    return format(this.luser, this.lserver, this.lresource);
  }

  /** `[luser, lserver, lresource]`, the session key of ejabberd_sm (`jid:tolower/1`). */
  get usr(): readonly [string, string, string] {
    return [this.luser, this.lserver, this.lresource];
  }

  /** `[luser, lserver]`, the user key of ejabberd_sm (`jid:remove_resource(jid:tolower(J))`). */
  get us(): readonly [string, string] {
    return [this.luser, this.lserver];
  }

  /** `toString()`, so that `JSON.stringify` gives the address. */
  toJSON(): string {
    return this.toString();
  }
}

function format(local: string, domain: string, resource: string): string {
  let s = local === '' ? domain : local + '@' + domain;
  if (resource !== '') s += '/' + resource;
  return s;
}

/**
 * Builds a {@link Jid} from its raw parts, as ejabberd's `jid:make/3`: each part is prepared
 * (`nodeprep`, `nameprep`, `resourceprep`). `''` means no localpart / no resource.
 *
 * @throws {InvalidJidError} naming the failing part and the reason.
 * @example jid('Juliet', 'Example.com', 'balcony').toPreparedString() // 'juliet@example.com/balcony'
 */
export function jid(local: string, domain: string, resource = ''): Jid {
  // ejabberd's order: user, server, resource.
  const luser = nodeprep(local);
  const lserver = nameprep(domain);
  return new Jid(local, domain, resource, luser, lserver, resourceprep(resource));
}

/**
 * Parses an XMPP address, as ejabberd's `jid:decode/1`, splitting exactly as RFC 7622 §3.2 (before
 * any preparation): at the first `/` (the resourcepart may contain `/` and `@`), then, before it, at
 * the first `@`. A present separator with an empty part (`@b`, `a@b/`) is invalid. Results are kept
 * in an LRU cache keyed by the input string.
 *
 * @throws {InvalidJidError} naming the failing part and the reason; never any other error.
 * @example parseJid('juliet@example.com/balcony').bare().toString() // 'juliet@example.com'
 */
export function parseJid(input: string): Jid {
  if (typeof input !== 'string') throw new InvalidJidError('domain', 'malformed', String(input));
  const hit = caches.parse.get(input);
  if (hit !== undefined) return hit;
  let rest = input;
  let resource = '';
  const slash = input.indexOf('/');
  if (slash >= 0) {
    resource = input.slice(slash + 1);
    if (resource === '') throw new InvalidJidError('resource', 'empty', resource);
    rest = input.slice(0, slash);
  }
  let local = '';
  let domain = rest;
  const at = rest.indexOf('@');
  if (at >= 0) {
    local = rest.slice(0, at);
    if (local === '') throw new InvalidJidError('local', 'empty', local);
    domain = rest.slice(at + 1);
  }
  const result = jid(local, domain, resource);
  if (cachingEnabled) caches.parse.set(input, result);
  return result;
}
