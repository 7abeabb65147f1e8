/** Describes a handler for logs and events: its function name, or `<anonymous>`. */
export function handlerName(fn: Function): string {
  return fn.name === '' ? '<anonymous>' : fn.name;
}
