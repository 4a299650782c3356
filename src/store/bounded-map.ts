/**
 * A Map that keeps at most `max` entries and forgets the least recently used one first: the
 * store's process-wide caches of content-addressed objects, which a long-lived process (the UI
 * server) would otherwise grow with every run it sees.
 */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new RangeError(`BoundedMap needs room for at least one entry, not ${max}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    // A Map iterates in insertion order: moving a hit to the end keeps the oldest-used first.
    this.entries.delete(key);
    this.entries.set(key, v);
    return v;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }
}
