// The RFC 3454 preparation algorithm (§3 mapping, §4 normalisation, §5 prohibited output, §6 bidi,
// RFC 3454 §7 unassigned code points) over the tables of stanza's stringprep (imported, checked exhaustively
// against Unicode 3.2 data by scripts/generate-unicode32.py), with structured errors.
import {
  A1,
  B1,
  B2,
  C3,
  C4,
  C5,
  C6,
  C7,
  C8,
  C9,
  C11,
  C12,
  C21,
  C22,
  D1,
  D2,
  type Table,
} from 'stanza/lib/stringprep/index.js';
import { InvalidJidError, type JidPart } from '../errors.ts';
import { NFKC_UNICODE32_CORRECTIONS } from './unicode32.generated.ts';

/** A stringprep profile: RFC 3920 appendices A (nodeprep) and B (resourceprep), RFC 3491 (nameprep). */
export interface Profile {
  readonly part: JidPart;
  /** Apply table B.2 (case folding for NFKC); nodeprep and nameprep do, resourceprep does not. */
  readonly caseFold: boolean;
  /** Prohibited output tables. */
  readonly prohibited: readonly Table[];
  /** Extra prohibited ASCII code points (nodeprep: `"&'/:<>@`). */
  readonly prohibitedAscii: ReadonlySet<number>;
}

const COMMON_PROHIBITED: readonly Table[] = [C12, C22, C3, C4, C5, C6, C7, C8, C9];

/** Nodeprep, RFC 3920 appendix A.5: C.1.1, C.1.2, C.2.1, C.2.2, C.3–C.9 and `"&'/:<>@`. */
export const NODEPREP: Profile = {
  part: 'local',
  caseFold: true,
  prohibited: [C11, C21, ...COMMON_PROHIBITED],
  prohibitedAscii: new Set([0x22, 0x26, 0x27, 0x2f, 0x3a, 0x3c, 0x3e, 0x40]),
};

/** Nameprep, RFC 3491 §5: C.1.2, C.2.2, C.3–C.9. */
export const NAMEPREP: Profile = {
  part: 'domain',
  caseFold: true,
  prohibited: COMMON_PROHIBITED,
  prohibitedAscii: new Set(),
};

/** Resourceprep, RFC 3920 appendix B.5: C.1.2, C.2.1, C.2.2, C.3–C.9 (ASCII space allowed). */
export const RESOURCEPREP: Profile = {
  part: 'resource',
  caseFold: false,
  prohibited: [C21, ...COMMON_PROHIBITED],
  prohibitedAscii: new Set(),
};

/** Per profile, which ASCII code points are prohibited output (precomputed from the tables). */
const asciiProhibited = new WeakMap<Profile, Uint8Array>();
function asciiTable(profile: Profile): Uint8Array {
  let t = asciiProhibited.get(profile);
  if (t === undefined) {
    t = new Uint8Array(0x80);
    for (let cp = 0; cp < 0x80; cp++) t[cp] = isProhibited(profile, cp) ? 1 : 0;
    asciiProhibited.set(profile, t);
  }
  return t;
}

function isAsciiLetter(cp: number): boolean {
  return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a);
}

function isProhibited(profile: Profile, cp: number): boolean {
  if (profile.prohibitedAscii.has(cp)) return true;
  for (const table of profile.prohibited) if (table.contains(cp)) return true;
  return false;
}

/**
 * Prepares `input` with `profile`; unassigned code points are refused (stored-string rules,
 * RFC 3454 §7). Throws {@link InvalidJidError} with the part of the profile; `raw` is the raw part
 * reported in the error (defaults to `input`).
 */
export function prepare(profile: Profile, input: string, raw: string = input): string {
  // RFC 3454 §3 mapping (B.1 always, B.2 for case-folding profiles); §7 unassigned check on the input.
  // ASCII code points take shortcuts: none is in A.1, B.1 or D.1, B.2 only lowercases A–Z, the
  // prohibited ones are precomputed and only letters are in D.2.
  const prohibitedAscii = asciiTable(profile);
  let mapped = '';
  for (const ch of input) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) {
      mapped += profile.caseFold && cp >= 0x41 && cp <= 0x5a ? String.fromCharCode(cp + 0x20) : ch;
      continue;
    }
    if (A1.contains(cp)) throw new InvalidJidError(profile.part, 'unassigned', raw, { codePoint: cp });
    if (B1.contains(cp)) continue;
    if (profile.caseFold && B2.hasMapping(cp)) {
      const m = B2.map(cp);
      if (typeof m === 'number') mapped += String.fromCodePoint(m);
      else if (m !== null) mapped += String.fromCodePoint(...m);
      continue;
    }
    mapped += NFKC_UNICODE32_CORRECTIONS.get(cp) ?? ch;
  }
  // RFC 3454 §4 normalisation: NFKC (Unicode 3.2 behaviour through the generated corrections).
  const normalized = mapped.normalize('NFKC');
  // RFC 3454 §5 prohibited output, §7 unassigned, §6 bidi.
  let firstRandAL = -1;
  let firstL = -1;
  let first = -1;
  let last = -1;
  for (const ch of normalized) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) {
      if (prohibitedAscii[cp] === 1) {
        throw new InvalidJidError(profile.part, 'prohibited_character', raw, { codePoint: cp });
      }
      if (first < 0) first = cp;
      last = cp;
      if (firstL < 0 && isAsciiLetter(cp)) firstL = cp;
      continue;
    }
    if (isProhibited(profile, cp)) {
      throw new InvalidJidError(profile.part, 'prohibited_character', raw, { codePoint: cp });
    }
    if (A1.contains(cp)) throw new InvalidJidError(profile.part, 'unassigned', raw, { codePoint: cp });
    if (first < 0) first = cp;
    last = cp;
    if (firstRandAL < 0 && D1.contains(cp)) firstRandAL = cp;
    else if (firstL < 0 && D2.contains(cp)) firstL = cp;
  }
  if (firstRandAL >= 0) {
    // RFC 3454 §6 rule 2: no LCat with RandALCat; rule 3: RandALCat first and last.
    if (firstL >= 0) throw new InvalidJidError(profile.part, 'bidi', raw, { codePoint: firstL });
    if (!D1.contains(first)) throw new InvalidJidError(profile.part, 'bidi', raw, { codePoint: first });
    if (!D1.contains(last)) throw new InvalidJidError(profile.part, 'bidi', raw, { codePoint: last });
  }
  return normalized;
}
