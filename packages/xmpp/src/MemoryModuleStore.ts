import type { ModuleStore } from './ModuleStore.ts';

const EMPTY: ReadonlyMap<string, string> = new Map();

/** {@link ModuleStore} in this process's memory: the default, lost at restart (ejabberd's `mnesia` ram copies). */
export class MemoryModuleStore implements ModuleStore {
  readonly name = 'memory';
  private readonly maps = new Map<string, Map<string, string>>();
  private readonly lists = new Map<string, string[]>();

  private static key(table: string, us: string): string {
    return `${table}\0${us}`;
  }

  getAll(table: string, us: string): ReadonlyMap<string, string> {
    const m = this.maps.get(MemoryModuleStore.key(table, us));
    // Most users have no blocklist: the check on every routed stanza allocates nothing then.
    return m === undefined ? EMPTY : new Map(m);
  }

  get(table: string, us: string, field: string): string | undefined {
    return this.maps.get(MemoryModuleStore.key(table, us))?.get(field);
  }

  set(table: string, us: string, field: string, value: string): void {
    const k = MemoryModuleStore.key(table, us);
    let m = this.maps.get(k);
    if (m === undefined) {
      m = new Map();
      this.maps.set(k, m);
    }
    m.set(field, value);
  }

  delete(table: string, us: string, field: string): void {
    const k = MemoryModuleStore.key(table, us);
    const m = this.maps.get(k);
    if (m === undefined) return;
    m.delete(field);
    if (m.size === 0) this.maps.delete(k);
  }

  deleteAll(table: string, us: string): void {
    const k = MemoryModuleStore.key(table, us);
    this.maps.delete(k);
    this.lists.delete(k);
  }

  append(table: string, us: string, value: string, max: number): boolean {
    const k = MemoryModuleStore.key(table, us);
    let list = this.lists.get(k);
    if (list === undefined) {
      list = [];
      this.lists.set(k, list);
    }
    if (list.length >= max) return false;
    list.push(value);
    return true;
  }

  readList(table: string, us: string): string[] {
    return [...(this.lists.get(MemoryModuleStore.key(table, us)) ?? [])];
  }

  takeAll(table: string, us: string): string[] {
    const k = MemoryModuleStore.key(table, us);
    const list = this.lists.get(k) ?? [];
    this.lists.delete(k);
    return list;
  }

  count(table: string, us: string): number {
    return this.lists.get(MemoryModuleStore.key(table, us))?.length ?? 0;
  }
}
