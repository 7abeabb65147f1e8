import { receivedText } from '@otp-chat/session-manager';
import { type Element, escapeXML, escapeXMLText } from '@xmpp/xml';

/** A child of an element: an element, text, or (rarely) a value ltx writes with `toString`. */
type Node = Element | string | { toString(radix?: number): string } | null | undefined;

function isElement(node: Node): node is Element {
  return typeof node === 'object' && node !== null && Array.isArray((node as Element).children);
}

function openTag(el: Element): string {
  let s = `<${el.name}`;
  const attrs = el.attrs;
  for (const k in attrs) {
    const v = attrs[k] as unknown;
    if (v !== null && v !== undefined) {
      s += ` ${k}="${escapeXML(typeof v === 'string' ? v : (v as number).toString(10))}"`;
    }
  }
  return s;
}

/**
 * `element.toString()`, byte for byte as ltx writes it, but with an explicit stack instead of
 * recursion: no stanza, however deep, can overflow the call stack of the connection that writes it.
 */
export function serialize(root: Element): string {
  // A stanza from another node, not read since it arrived: the text it crossed as, unparsed.
  const received = receivedText(root);
  if (received !== undefined) return received;
  if (root.children.length === 0) return `${openTag(root)}/>`;
  let out = '';
  // Frames: the element and the index of its next child.
  const elements: Element[] = [root];
  const next: number[] = [0];
  out += `${openTag(root)}>`;
  while (elements.length > 0) {
    const top = elements.length - 1;
    const el = elements[top]!;
    const i = next[top]!;
    const children = el.children as Node[];
    if (i >= children.length) {
      out += `</${el.name}>`;
      elements.pop();
      next.pop();
      continue;
    }
    next[top] = i + 1;
    const child = children[i];
    if (child === null || child === undefined) continue;
    if (typeof child === 'string') out += escapeXMLText(child);
    else if (isElement(child)) {
      if (child.children.length === 0) out += `${openTag(child)}/>`;
      else {
        out += `${openTag(child)}>`;
        elements.push(child);
        next.push(0);
      }
    } else out += escapeXMLText(child.toString(10));
  }
  return out;
}
