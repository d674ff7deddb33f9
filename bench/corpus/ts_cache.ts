interface CacheEntry<V> {
  value: V;
  expiresAt: number;
}

export class TtlCache<K, V> {
  private entries = new Map<K, CacheEntry<V>>();

  constructor(private readonly ttlMs: number) {}

  set(key: K, value: V): void {
    this.entries.set(key, { value, expiresAt: Date.now() + this.ttlMs });
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.expiresAt < Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.
