import { Element } from '@xmpp/xml';

/** A deep copy of an element (ltx 3 has no `Element#clone`), with `overrides` merged into its attributes. */
export function copyElement(el: Element, overrides?: Readonly<Record<string, string>>): Element {
  const copy = new Element(
    el.name,
    overrides === undefined ? { ...el.attrs } : { ...el.attrs, ...overrides },
  );
  for (const child of el.children) {
    if (typeof child === 'string') copy.children.push(child);
    else copy.cnode(copyElement(child));
  }
  return copy;
}
