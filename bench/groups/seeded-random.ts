/** mulberry32, as in test/helpers/seeded-random.ts (copied: the bench does not import tests). */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  /** `count` distinct items, in the order drawn. */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    const out: T[] = [];
    for (let i = 0; i < count && pool.length > 0; i++) out.push(pool.splice(this.int(0, pool.length - 1), 1)[0]!);
    return out;
  }
  /** 32 hex digits, like the UUID in a classic Kafka member id. */
  hexId(): string {
    let s = '';
    for (let i = 0; i < 4; i++) s += Math.floor(this.next() * 0x1_0000_0000).toString(16).padStart(8, '0');
    return s;
  }
}
