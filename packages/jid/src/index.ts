export { configureJidCache, type JidCacheOptions } from './configureJidCache.ts';
export { DEFAULTS } from './DEFAULTS.ts';
export {
  formatCodePoint,
  InvalidJidError,
  type InvalidJidErrorOptions,
  type JidErrorReason,
  type JidPart,
} from './errors.ts';
export { escapeLocal, unescapeLocal } from './escapeLocal.ts';
export { Jid, jid, parseJid } from './Jid.ts';
export { nameprep } from './nameprep.ts';
export { nodeprep } from './nodeprep.ts';
export { resourceprep } from './resourceprep.ts';
