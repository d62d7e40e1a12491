import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import { MAX_PARTITIONS } from '../../../src/core/limits.js';
import type { AssignorInput, AssignorMember, GroupAssignment } from '../../../src/groups/assignors/partition-assignor.js';
import { StickyAssignor } from '../../../src/groups/assignors/sticky-assignor.js';
import { SeededRandom } from '../../helpers/seeded-random.js';

const assignor = new StickyAssignor();
const assign = (input: AssignorInput) => assignor.assign(input);
const key = (topic: string, partition: number) => `${topic}/${partition}`;

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const values = map.get(key);
  if (values === undefined) map.set(key, [value]);
  else values.push(value);
}

/** The topics a member effectively subscribes to: existing, with at least one partition. */
function effectiveTopics(input: AssignorInput, member: AssignorMember): string[] {
  return [...new Set(member.topics)].filter((t) => (input.partitionCounts.get(t) ?? 0) > 0).sort();
}

/** Member id and partition key -> owner, both from an assignment or a `previous` map. */
function ownersOf(assignment: Iterable<[string, ReadonlyMap<string, readonly number[]>]>): Map<string, string> {
  const owners = new Map<string, string>();
  for (const [memberId, topics] of assignment) for (const [t, ps] of topics) for (const p of ps) owners.set(key(t, p), memberId);
  return owners;
}

/**
 * The oracle: validity plus the documented balance guarantee (no single move narrows the spread;
 * hence members with one effective subscription differ by at most 1). Returns each member's count.
 */
function checkAssignment(input: AssignorInput, output: GroupAssignment): Map<string, number> {
  expect([...output.keys()].sort()).toEqual(input.members.map((m) => m.memberId).sort());
  const counts = new Map<string, number>();
  const owner = new Map<string, string>();
  const subscribers = new Map<string, string[]>();
  for (const member of input.members) {
    const subscribed = new Set(effectiveTopics(input, member));
    for (const t of subscribed) pushTo(subscribers, t, member.memberId);
    let count = 0;
    for (const [t, ps] of output.get(member.memberId)!) {
      expect(subscribed.has(t), `${member.memberId} got unsubscribed ${t}`).toBe(true);
      expect(ps.length).toBeGreaterThan(0);
      ps.forEach((p, i) => {
        expect(Number.isInteger(p) && p >= 0 && p < input.partitionCounts.get(t)!).toBe(true);
        if (i > 0) expect(p).toBeGreaterThan(ps[i - 1]!);
        expect(owner.has(key(t, p)), `${key(t, p)} assigned twice`).toBe(false);
        owner.set(key(t, p), member.memberId);
      });
      count += ps.length;
    }
    counts.set(member.memberId, count);
  }
  for (const [t, members] of subscribers) {
    let maxOwnerCount = 0;
    for (let p = 0; p < input.partitionCounts.get(t)!; p++) {
      const m = owner.get(key(t, p));
      expect(m, `${key(t, p)} unassigned`).toBeDefined();
      maxOwnerCount = Math.max(maxOwnerCount, counts.get(m!)!);
    }
    const minSubscriberCount = Math.min(...members.map((m) => counts.get(m)!));
    expect(minSubscriberCount, `a partition of ${t} could move to narrow the spread`).toBeGreaterThanOrEqual(maxOwnerCount - 1);
  }
  const groups = new Map<string, number[]>();
  for (const m of input.members) {
    pushTo(groups, effectiveTopics(input, m).join(','), counts.get(m.memberId)!);
  }
  for (const cs of groups.values()) expect(Math.max(...cs) - Math.min(...cs)).toBeLessThanOrEqual(1);
  return counts;
}

const serialize = (a: GroupAssignment) => JSON.stringify([...a].map(([m, ts]) => [m, [...ts]]));
const member = (memberId: string, topics: string[], previous: Record<string, number[]> = {}, instanceId?: string): AssignorMember => ({
  memberId, topics, previous: new Map(Object.entries(previous)), ...(instanceId === undefined ? {} : { instanceId }),
});
const counts = (entries: Record<string, number>) => new Map(Object.entries(entries));
const asRecord = (a: GroupAssignment) => Object.fromEntries([...a].map(([m, ts]) => [m, Object.fromEntries(ts)]));
const withPrevious = (input: AssignorInput, previous: GroupAssignment): AssignorInput => ({
  ...input, members: input.members.map((m) => ({ ...m, previous: previous.get(m.memberId) ?? new Map() })),
});

function shuffle<T>(items: readonly T[], rng: SeededRandom): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The same content in a different order everywhere an order exists. */
function reorder(input: AssignorInput, rng: SeededRandom): AssignorInput {
  return {
    partitionCounts: new Map(shuffle([...input.partitionCounts], rng)),
    members: shuffle(input.members, rng).map((m) => ({
      ...m,
      topics: shuffle(m.topics, rng),
      previous: new Map(shuffle([...m.previous], rng).map(([t, ps]) => [t, shuffle(ps, rng)])),
    })),
  };
}

/** Any input: mixed subscriptions, missing topics, conflicting, stale and out-of-range previous. */
const TOPICS = ['a', 'b', 'c', 'd'];
const anyInput: fc.Arbitrary<AssignorInput> = fc
  .record({
    partitionCounts: fc.tuple(...TOPICS.map(() => fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }))),
    members: fc.uniqueArray(
      fc.record({
        memberId: fc.constantFrom(...Array.from({ length: 12 }, (_, i) => `m${i}`)),
        instanceId: fc.option(fc.constantFrom('i0', 'i1', 'i2', 'i3'), { nil: undefined }),
        topics: fc.subarray([...TOPICS, 'ghost']),
        previous: fc.array(fc.tuple(fc.constantFrom(...TOPICS, 'ghost'), fc.array(fc.integer({ min: -1, max: 14 }), { maxLength: 6 })), { maxLength: 4 }),
      }),
      { selector: (m) => m.memberId, minLength: 1, maxLength: 8 },
    ),
  })
  .map(({ partitionCounts, members }) => ({
    partitionCounts: new Map(TOPICS.flatMap((t, i) => (partitionCounts[i] === undefined ? [] : [[t, partitionCounts[i]] as const]))),
    members: members.map((m) => ({ ...m, previous: new Map(m.previous) })),
  }));

/**
 * A homogeneous scenario: every member subscribes to the same topics. `previous` is a valid
 * assignment over current and departed members (or `balanced` over current members), with stale
 * partitions and an unsubscribed topic mixed in; `kept` is what of it is still valid.
 */
function homogeneousScenario(seed: number, options: { balanced: boolean }) {
  const rng = new SeededRandom(seed);
  const topics = Array.from({ length: rng.int(1, 4) }, (_, i) => `t${i}`);
  const partitionCounts = new Map(topics.map((t) => [t, rng.int(0, 15)] as const));
  partitionCounts.set('unsubscribed', 3);
  const memberIds = Array.from({ length: rng.int(1, 8) }, (_, i) => `m${i}`);
  const partitions = shuffle(topics.flatMap((t) => Array.from({ length: partitionCounts.get(t)! }, (_, p) => [t, p] as const)), rng);
  const kept = new Map<string, Array<readonly [string, number]>>(memberIds.map((m) => [m, []]));
  if (options.balanced) {
    const base = Math.floor(partitions.length / memberIds.length);
    const bigger = new Set(shuffle(memberIds, rng).slice(0, partitions.length % memberIds.length));
    let next = 0;
    for (const m of memberIds) for (let i = 0; i < base + (bigger.has(m) ? 1 : 0); i++) kept.get(m)!.push(partitions[next++]!);
  } else {
    const owners = [...memberIds, 'gone0', 'gone1', 'nobody'];
    for (const tp of partitions) {
      const o = rng.pick(owners);
      if (kept.has(o)) kept.get(o)!.push(tp);
    }
  }
  const previousOf = (m: string) => {
    const byTopic = new Map<string, number[]>();
    for (const [t, p] of kept.get(m) ?? []) byTopic.set(t, [...(byTopic.get(t) ?? []), p]);
    if (rng.chance(0.3)) byTopic.set(topics[0]!, [...(byTopic.get(topics[0]!) ?? []), partitionCounts.get(topics[0]!)! + rng.int(0, 2)]);
    if (rng.chance(0.3)) byTopic.set('unsubscribed', [rng.int(0, 2)]);
    return new Map([...byTopic].map(([t, ps]) => [t, ps.sort((x, y) => x - y)]));
  };
  const members = memberIds.map((m) => ({ memberId: m, topics: [...topics, 'ghost'], previous: previousOf(m) }));
  const keptKeys = new Map(memberIds.map((m) => [m, new Set(kept.get(m)!.map(([t, p]) => key(t, p)))]));
  return { input: { members, partitionCounts }, kept: keptKeys, total: partitions.length };
}

describe('StickyAssignor', () => {
  it('is named sticky', () => expect(assignor.name).toBe('sticky'));

  it('deals a fresh topic round-robin in member id order', () => {
    const input = { members: ['m2', 'm0', 'm1'].map((m) => member(m, ['orders'])), partitionCounts: counts({ orders: 7 }) };
    expect(asRecord(assign(input))).toEqual({ m0: { orders: [0, 3, 6] }, m1: { orders: [1, 4] }, m2: { orders: [2, 5] } });
    expect([...assign(input).keys()]).toEqual(['m0', 'm1', 'm2']);
  });

  it('drops partitions that no longer exist and keeps the rest where it was', () => {
    const input = {
      members: [member('m0', ['t'], { t: [0, 2, 4, 6, 8] }), member('m1', ['t'], { t: [1, 3, 5, 7] })],
      partitionCounts: counts({ t: 8 }),
    };
    expect(asRecord(assign(input))).toEqual({ m0: { t: [0, 2, 4, 6] }, m1: { t: [1, 3, 5, 7] } });
  });

  it('skips missing topics, leaves unsubscribed topics alone, and gives every member an entry', () => {
    const input = {
      members: [member('m0', ['t', 'ghost'], { x: [0], t: [1] }), member('m1', ['ghost'], { t: [0] })],
      partitionCounts: counts({ t: 2, x: 5 }),
    };
    expect(asRecord(assign(input))).toEqual({ m0: { t: [0, 1] }, m1: {} });
  });

  it('gives a claimed-twice partition to the first claimant in rank order', () => {
    const input = { members: [member('m1', ['t'], { t: [0] }), member('m0', ['t'], { t: [0] })], partitionCounts: counts({ t: 2 }) };
    expect(asRecord(assign(input))).toEqual({ m0: { t: [0] }, m1: { t: [1] } });
  });

  it('breaks ties by instance id, static members first, but orders output by member id', () => {
    const input = { members: [member('a', ['t']), member('z', ['t'], {}, 'i1')], partitionCounts: counts({ t: 3 }) };
    const output = assign(input);
    expect(asRecord(output)).toEqual({ a: { t: [1] }, z: { t: [0, 2] } });
    expect([...output.keys()]).toEqual(['a', 'z']);
  });

  it('hands a leaving member\'s partitions to the least loaded, moving nothing else', () => {
    const input = {
      members: [member('m0', ['t'], { t: [0, 1, 2] }), member('m2', ['t'], { t: [6, 7, 8] })],
      partitionCounts: counts({ t: 9 }),
    };
    expect(asRecord(assign(input))).toEqual({ m0: { t: [0, 1, 2, 3, 5] }, m2: { t: [4, 6, 7, 8] } });
  });

  it('keeps a locally balanced mixed assignment even when a chain of moves would narrow it (documented)', () => {
    const partitionCounts = counts({ T1: 3, T2: 3 });
    const topics = { a: ['T1'], b: ['T1', 'T2'], c: ['T2'] };
    const previous = { a: { T1: [0, 1, 2] }, b: { T2: [0, 1] }, c: { T2: [2] } };
    const sticky = { members: (['a', 'b', 'c'] as const).map((m) => member(m, topics[m], previous[m])), partitionCounts };
    expect(asRecord(assign(sticky))).toEqual(previous);
    const fresh = { members: (['a', 'b', 'c'] as const).map((m) => member(m, topics[m])), partitionCounts };
    expect([...checkAssignment(fresh, assign(fresh)).values()]).toEqual([2, 2, 2]);
  });

  it('passes on a partition it received in this run before one it kept', () => {
    // X1, X2 fill a (least loaded); c gives Y1 to b; then a gives X2 (fresh) to c, not its kept X0.
    const input = {
      members: [member('a', ['X', 'Y'], { X: [0] }), member('b', ['Y']), member('c', ['X', 'Y'], { Y: [0, 1] })],
      partitionCounts: counts({ X: 3, Y: 2 }),
    };
    expect(asRecord(assign(input))).toEqual({ a: { X: [0, 1] }, b: { Y: [1] }, c: { X: [2], Y: [0] } });
  });

  it('rejects duplicate member ids and impossible partition counts', () => {
    expect(() => assign({ members: [member('m', []), member('m', [])], partitionCounts: counts({}) })).toThrow(InvalidArgumentError);
    for (const bad of [-1, 1.5, MAX_PARTITIONS + 1]) {
      expect(() => assign({ members: [], partitionCounts: counts({ t: bad }) })).toThrow(InvalidArgumentError);
    }
  });

  it('is valid and locally balanced for any input, and idempotent', () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        const output = assign(input);
        checkAssignment(input, output);
        expect(serialize(assign(withPrevious(input, output)))).toBe(serialize(output));
      }),
      { numRuns: 500 },
    );
  });

  it('depends only on content: shuffled orders give identical output and the input is not mutated', () => {
    fc.assert(
      fc.property(anyInput, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (input, seed) => {
        const before = JSON.stringify(input, (_, v: unknown) => (v instanceof Map ? [...v] : v));
        const expected = serialize(assign(input));
        const rng = new SeededRandom(seed);
        for (let i = 0; i < 20; i++) expect(serialize(assign(reorder(input, rng)))).toBe(expected);
        expect(JSON.stringify(input, (_, v: unknown) => (v instanceof Map ? [...v] : v))).toBe(before);
      }),
      { numRuns: 150 },
    );
  });

  describe('stickiness with one subscription', () => {
    const seeds = fc.integer({ min: 0, max: 2 ** 31 - 1 });

    it('(a) returns a valid balanced previous assignment unchanged', () => {
      fc.assert(
        fc.property(seeds, (seed) => {
          const { input, kept } = homogeneousScenario(seed, { balanced: true });
          const output = assign(input);
          for (const [m, ks] of kept) expect(new Set(ownersOf([[m, output.get(m)!]]).keys())).toEqual(ks);
        }),
        { numRuns: 300 },
      );
    });

    it('(b) when a member leaves, only its partitions move', () => {
      fc.assert(
        fc.property(seeds, (seed) => {
          const { input, kept } = homogeneousScenario(seed, { balanced: true });
          const leaver = new SeededRandom(seed).pick(input.members).memberId;
          const remaining = { ...input, members: input.members.filter((m) => m.memberId !== leaver) };
          const output = assign(remaining);
          checkAssignment(remaining, output);
          const owners = ownersOf(output);
          for (const m of remaining.members) for (const k of kept.get(m.memberId)!) expect(owners.get(k)).toBe(m.memberId);
        }),
        { numRuns: 300 },
      );
    });

    it('(c) when a member joins, only the newcomer\'s share moves, all of it to the newcomer', () => {
      fc.assert(
        fc.property(seeds, (seed) => {
          const { input, kept, total } = homogeneousScenario(seed, { balanced: true });
          const topics = input.members[0]!.topics;
          const joined = { ...input, members: [...input.members, member('new', [...topics])] };
          const output = assign(joined);
          checkAssignment(joined, output);
          const newcomerCount = [...output.get('new')!.values()].reduce((n, ps) => n + ps.length, 0);
          expect(newcomerCount).toBe(Math.floor(total / joined.members.length));
          let moved = 0;
          for (const [m, ks] of kept) {
            const now = new Set(ownersOf([[m, output.get(m)!]]).keys());
            for (const k of now) expect(ks.has(k), `${m} gained ${k}`).toBe(true);
            moved += ks.size - now.size;
          }
          expect(moved).toBe(newcomerCount);
        }),
        { numRuns: 300 },
      );
    });

    it('(d) moves the minimum number of partitions for a balanced result', () => {
      fc.assert(
        fc.property(seeds, (seed) => {
          const { input, kept, total } = homogeneousScenario(seed, { balanced: false });
          const output = assign(input);
          const finalCounts = checkAssignment(input, output);
          const keptCounts = [...kept.values()].map((ks) => ks.size).sort((x, y) => y - x);
          const base = Math.floor(total / keptCounts.length);
          const extra = total % keptCounts.length;
          const orphans = total - keptCounts.reduce((n, k) => n + k, 0);
          const minimumLoss = keptCounts.reduce((n, k, i) => n + Math.max(0, k - (base + (i < extra ? 1 : 0))), 0);
          const owners = ownersOf(output);
          let moved = 0;
          for (const [k, m] of owners) if (!kept.get(m)!.has(k)) moved += 1;
          expect(moved).toBe(minimumLoss + orphans);
          for (const [m, ks] of kept) {
            const stayed = [...ks].filter((k) => owners.get(k) === m).length;
            expect(stayed).toBe(Math.min(ks.size, finalCounts.get(m)!));
          }
        }),
        { numRuns: 500 },
      );
    });
  });

  describe('scale', () => {
    const topics = Array.from({ length: 100 }, (_, i) => `topic-${String(i).padStart(3, '0')}`);
    const partitionCounts = new Map(topics.map((t) => [t, 100] as const));
    const timed = (input: AssignorInput) => {
      const startMs = performance.now();
      const output = assign(input);
      return { output, elapsedMs: performance.now() - startMs };
    };

    it('assigns 1,000 members x 10,000 partitions from scratch and after churn well within 5 s', () => {
      const fresh = { partitionCounts, members: Array.from({ length: 1000 }, (_, i) => member(`member-${i}`, topics)) };
      const first = timed(fresh);
      checkAssignment(fresh, first.output);
      const churned = withPrevious(
        { partitionCounts, members: [...fresh.members.slice(100), ...Array.from({ length: 100 }, (_, i) => member(`joiner-${i}`, topics))] },
        first.output,
      );
      const second = timed(churned);
      checkAssignment(churned, second.output);
      console.info(`sticky assignor, 1000 members x 10000 partitions: fresh ${first.elapsedMs.toFixed(0)} ms, churn ${second.elapsedMs.toFixed(0)} ms`);
      expect(first.elapsedMs + second.elapsedMs).toBeLessThan(5000);
    });

    it('assigns 1,000 members with mixed subscriptions over 10,000 partitions within 5 s', () => {
      const rng = new SeededRandom(848);
      const members = Array.from({ length: 1000 }, (_, i) => member(`member-${i}`, topics.filter(() => rng.chance(0.3))));
      const input = { partitionCounts, members };
      const first = timed(input);
      checkAssignment(input, first.output);
      const churned = withPrevious({ partitionCounts, members: members.slice(100) }, first.output);
      const second = timed(churned);
      checkAssignment(churned, second.output);
      console.info(`sticky assignor, mixed subscriptions: fresh ${first.elapsedMs.toFixed(0)} ms, churn ${second.elapsedMs.toFixed(0)} ms`);
      expect(first.elapsedMs + second.elapsedMs).toBeLessThan(5000);
    });
  });
});
