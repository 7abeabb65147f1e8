/** Which part of a JID an error is about. */
export type JidPart = 'local' | 'domain' | 'resource';

/**
 * Why a JID part was refused.
 * - `empty`: the part is empty although its separator is present (`@b`, `a@b/`), the domain is
 *   missing, or preparation removed every character (e.g. a lone U+00AD SOFT HYPHEN).
 * - `too_long`: more than 1023 bytes of UTF-8, before or after preparation (as ejabberd's `jid`
 *   checks both).
 * - `prohibited_character`: a code point of the profile's prohibited tables (RFC 3454 appendix C,
 *   nodeprep's `"&'/:<>@`), or in a domain ASCII whitespace or a control character, `@` or `/`
 *   (before or after preparation).
 * - `bidi`: the RFC 3454 §6 bidirectional rules (RandALCat with LCat, or RandALCat not at both ends).
 * - `unassigned`: a code point unassigned in Unicode 3.2 (RFC 3454 table A.1); JIDs are stored strings.
 * - `malformed`: anything else about the shape (an IP literal that holds no address, an empty
 *   domain label, a value that is not a string).
 */
export type JidErrorReason =
  | 'empty'
  | 'too_long'
  | 'prohibited_character'
  | 'bidi'
  | 'unassigned'
  | 'malformed';

/** Options of {@link InvalidJidError}. */
export interface InvalidJidErrorOptions {
  /** The offending code point, where there is one. */
  readonly codePoint?: number;
  /** The underlying error, if any (e.g. from the Punycode decoder). */
  readonly cause?: unknown;
}

const PART_NAMES: Readonly<Record<JidPart, string>> = {
  local: 'localpart',
  domain: 'domainpart',
  resource: 'resourcepart',
};

const REASON_TEXT: Readonly<Record<JidErrorReason, string>> = {
  empty: 'empty',
  too_long: 'longer than 1023 bytes',
  prohibited_character: 'prohibited character',
  bidi: 'violates the bidi rules (RFC 3454 §6)',
  unassigned: 'unassigned code point (RFC 3454 table A.1)',
  malformed: 'malformed',
};

/** `U+00DF` style rendering of a code point. */
export function formatCodePoint(codePoint: number): string {
  return 'U+' + codePoint.toString(16).toUpperCase().padStart(4, '0');
}

/**
 * Every JID parse or preparation failure. Never thrown as anything else: `parseJid`, `jid`,
 * `nodeprep`, `nameprep`, `resourceprep` and `escapeLocal` throw only this.
 */
export class InvalidJidError extends Error {
  override readonly name = 'InvalidJidError' as const;
  /** The part that failed. */
  readonly part: JidPart;
  /** Why it failed. */
  readonly reason: JidErrorReason;
  /** The offending code point, where there is one (the prohibited, unassigned or bidi-breaking one). */
  readonly codePoint: number | undefined;
  /** The raw part as given (before preparation). */
  readonly input: string;

  constructor(part: JidPart, reason: JidErrorReason, input: string, options: InvalidJidErrorOptions = {}) {
    const shown = input.length > 64 ? `${input.slice(0, 64)}…` : input;
    const at = options.codePoint === undefined ? '' : ` ${formatCodePoint(options.codePoint)}`;
    super(
      `invalid JID ${PART_NAMES[part]} ${JSON.stringify(shown)}: ${REASON_TEXT[reason]}${at}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.part = part;
    this.reason = reason;
    this.codePoint = options.codePoint;
    this.input = input;
  }
}
