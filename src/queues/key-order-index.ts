/**
 * Key order for one partition's window, kept up to date as records change instead of found by a
 * scan: per key, the window's records that are not done, in offset order (the first is the key's
 * head: the only one that may be handed out), and the set of records ready to go (available, and
 * keyless or their key's head). Keys are the latin1 strings of the key bytes; null is keyless.
 *
 * PartitionQueue tells it every change of a window record's state; it knows nothing of time, so a
 * ready record may still be waiting for its backoff (the caller checks eligibility).
 */
export class KeyOrderIndex {
  private readonly keyOf = new Map<number, string | null>();
  /** Per key, its not-done window offsets, ascending (a small array per key: records arrive in order). */
  private readonly pending = new Map<string, number[]>();
  private readonly readySet = new Set<number>();

  /** A record entering the window (in offset order), with whether it is available and whether it is done. */
  add(offset: number, key: string | null, state: 'available' | 'acquired' | 'done'): void {
    this.keyOf.set(offset, key);
    if (state === 'done') return;
    if (key === null) {
      if (state === 'available') this.readySet.add(offset);
      return;
    }
    let offsets = this.pending.get(key);
    if (!offsets) this.pending.set(key, (offsets = []));
    offsets.push(offset);
    if (offsets.length === 1 && state === 'available') this.readySet.add(offset);
  }

  isKnown(offset: number): boolean {
    return this.keyOf.has(offset);
  }

  /** Released: ready again if nothing of its key comes first. */
  onAvailable(offset: number): void {
    if (!this.keyOf.has(offset)) return;
    const key = this.keyOf.get(offset)!;
    if (key === null || this.pending.get(key)?.[0] === offset) this.readySet.add(offset);
  }

  onAcquired(offset: number): void {
    this.readySet.delete(offset);
  }

  /** Done: it stops blocking its key; the key's next record becomes ready if `isAvailable` says so. */
  onDone(offset: number, isAvailable: (offset: number) => boolean): void {
    this.readySet.delete(offset);
    if (!this.keyOf.has(offset)) return;
    const key = this.keyOf.get(offset)!;
    if (key === null) return;
    const offsets = this.pending.get(key);
    const at = offsets?.indexOf(offset) ?? -1;
    if (!offsets || at < 0) return;
    offsets.splice(at, 1);
    if (offsets.length === 0) this.pending.delete(key);
    else if (at === 0 && isAvailable(offsets[0]!)) this.readySet.add(offsets[0]!);
  }

  /** Below the start: gone from the window (done records only, so nothing else changes). */
  forget(offset: number): void {
    this.keyOf.delete(offset);
    this.readySet.delete(offset);
  }

  /** Ready records in offset order. */
  ready(): number[] {
    return [...this.readySet].sort((a, b) => a - b);
  }

  clear(): void {
    this.keyOf.clear();
    this.pending.clear();
    this.readySet.clear();
  }
}
