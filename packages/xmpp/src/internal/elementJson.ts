import { Element } from '@xmpp/xml';

/** A stanza as stored: `[name, attrs, children]`, a child being text or another node. */
type Node = [string, Record<string, string>, (string | Node)[]];

function toNode(e: Element): Node {
  const children: (string | Node)[] = [];
  for (const c of e.children) children.push(typeof c === 'string' ? c : toNode(c as Element));
  return [e.name, { ...(e.attrs as Record<string, string>) }, children];
}

/** A stanza as JSON text, for a module store (its depth is bounded by the stream parser's limit). */
export function elementToJson(e: Element): string {
  return JSON.stringify(toNode(e));
}

function fromNode(n: Node): Element {
  const e = new Element(n[0], n[1]);
  for (const c of n[2]) {
    if (typeof c === 'string') e.t(c);
    else e.cnode(fromNode(c));
  }
  return e;
}

/** The stanza {@link elementToJson} stored; throws on text it did not write. */
export function elementFromJson(text: string): Element {
  const n = JSON.parse(text) as unknown;
  if (!Array.isArray(n) || typeof n[0] !== 'string') throw new TypeError('not a stored stanza');
  return fromNode(n as Node);
}
