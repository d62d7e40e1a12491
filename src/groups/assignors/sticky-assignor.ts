import { assert } from '../../core/assert.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { MAX_MEMBERS_PER_GROUP, MAX_PARTITIONS } from '../../core/limits.js';
import { IndexedHeap } from './indexed-heap.js';
import type { AssignorInput, AssignorMember, GroupAssignment, PartitionAssignor } from './partition-assignor.js';

/**
 * A balanced, sticky assignor, like KIP-848's server-side "uniform" assignor: it computes the
 * group's next target assignment from the members' subscriptions and their current targets.
 *
 * Terms. A member's *count* is how many partitions it owns, over all topics together. A member's
 * *effective subscription* is the set of its subscribed topics that exist with at least one partition;
 * members with equal effective subscriptions form a *subscription group*. A previous partition is
 * *kept-valid* when it still exists, its member still subscribes to its topic, and no member ranked
 * before it claims it too. The *rank* is the tie-breaker used everywhere: static members (those with
 * an instanceId) first, by instanceId, then dynamic ones, by memberId, memberId breaking any tie left.
 * Ranking by instanceId lets a static member that rejoins under a new memberId keep its place in
 * every tie. The output's Map order never depends on it: members, topics and partitions are all
 * emitted in ascending order.
 *
 * Algorithm, in three phases.
 *  1. Keep: every member keeps its kept-valid partitions; everything else is dropped (deleted or
 *     stale partitions, unsubscribed topics, duplicates claimed by a member ranked earlier).
 *  2. Fill: each partition left without an owner goes to the least-loaded member that subscribes to
 *     its topic (fewest partitions, then rank). Topics with the fewest subscribers go first, since
 *     they have the fewest places to go; partitions go in ascending order, so from scratch a single
 *     topic is dealt round-robin over the members in rank order.
 *  3. Balance: while some member `a` owns a partition that a subscriber `b` of its topic could take
 *     with count(b) <= count(a) - 2, move one: `a` is the most loaded member that has such a move,
 *     `b` the least loaded member that can take one of its partitions. The partition is one that `a`
 *     received in this run, if `b` can take one (it moves anyway, so moving it again costs nothing),
 *     else the highest kept partition of `a`'s first topic (in name order) that `b` subscribes to.
 *     Rounds over all members repeat until a whole round moves nothing.
 *
 * Guarantees (test/groups/assignors/sticky-assignor.test.ts checks each one).
 *  - Valid: every partition of every topic that exists and has a subscriber is owned by exactly one
 *    member, and that member subscribes to its topic; nothing else is assigned.
 *  - Locally balanced: for every owned partition of topic T and every other subscriber b of T,
 *    count(b) >= count(owner) - 1, i.e. no single partition move can narrow the spread. Hence members
 *    of one subscription group differ by at most 1, and when all members share one effective
 *    subscription, the counts of all members differ by at most 1.
 *  - Not guaranteed for mixed subscriptions: the global minimum spread. Phase 3 moves one partition
 *    at a time and never searches chains. With a:{T1}, b:{T1,T2}, c:{T2}, a owning all 3 partitions
 *    of T1 and b, c owning 2 and 1 of T2's three is locally balanced (3/2/1) and is kept as it is,
 *    although 2/2/2 exists (a gives T1 to b, b gives T2 to c).
 *  - Sticky: a partition leaves its kept-valid owner only in phase 3, and only to narrow the spread.
 *    With one subscription group every member is either a giver or a taker, never both, and givers
 *    are drained from the most loaded down, so the members left one above the others are ones that
 *    kept that many. The number of moved partitions is therefore the minimum over all balanced
 *    results: sum over members of max(0, keptValid - final) plus the partitions without a kept-valid
 *    owner, and every member keeps min(keptValid, final) of its partitions. In particular a member
 *    leaving moves only its partitions, a member joining takes only its share from the others, and
 *    an input that is already valid and locally balanced (any subscriptions) comes back unchanged.
 *  - Deterministic: the output depends on the input's content only (members and topics are ranked
 *    and sorted first; every tie is broken by rank, never by iteration order); the input is not mutated.
 *
 * Bounds. Every loop walks an input-sized collection, except the rounds of phase 3, which are bounded
 * by a potential: a move from count x to count y <= x - 2 lowers the sum of squared counts by
 * 2(x - y - 1) >= 2, so at most floor(sumOfSquares / 2) moves happen, and each round but the last
 * moves at least once. In practice one round does the work and one more confirms it.
 * Cost: O(P log M + M log M) with one subscription group (P partitions, M members) after reading
 * the input. With G groups, placing a partition also scans the groups subscribing to its topic,
 * each move or check of a giver scans all G, and a member x group table of int32 counts is kept
 * (G <= M <= MAX_MEMBERS_PER_GROUP, so at most 4 MiB).
 */
export class StickyAssignor implements PartitionAssignor {
  readonly name = 'sticky';

  assign(input: AssignorInput): GroupAssignment {
    validateInput(input);
    const plan = new AssignmentPlan(input);
    plan.keepValidPrevious();
    plan.fillUnowned();
    plan.balance();
    plan.assertLocallyBalanced();
    return plan.toGroupAssignment();
  }
}

const NO_OWNER = -1;

function validateInput(input: AssignorInput): void {
  if (input.members.length > MAX_MEMBERS_PER_GROUP) {
    throw new InvalidArgumentError(
      `a group has at most ${MAX_MEMBERS_PER_GROUP} members, got ${input.members.length}`,
    );
  }
  const memberIds = new Set<string>();
  for (const member of input.members) {
    if (memberIds.has(member.memberId)) {
      throw new InvalidArgumentError(`member id '${member.memberId}' appears twice`);
    }
    memberIds.add(member.memberId);
  }
  for (const [topic, partitionCount] of input.partitionCounts) {
    if (!Number.isSafeInteger(partitionCount) || partitionCount < 0 || partitionCount > MAX_PARTITIONS) {
      throw new InvalidArgumentError(
        `topic '${topic}' has partition count ${partitionCount}, expected an integer in [0, ${MAX_PARTITIONS}]`,
      );
    }
  }
}

/** Code-unit order: unlike localeCompare, the same on every machine and locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareRank(a: AssignorMember, b: AssignorMember): number {
  const isStaticA = a.instanceId !== undefined;
  const isStaticB = b.instanceId !== undefined;
  if (isStaticA !== isStaticB) return isStaticA ? -1 : 1;
  if (a.instanceId !== undefined && b.instanceId !== undefined && a.instanceId !== b.instanceId) {
    return compareStrings(a.instanceId, b.instanceId);
  }
  return compareStrings(a.memberId, b.memberId);
}

/**
 * The working state of one assign() call. Members and topics are numbered: member index = rank,
 * topic index = position in code-unit order of the name. Invariants between the phases:
 * owners[t][p] is the member owning partition p of topic t (or NO_OWNER); that member subscribes
 * to t; counts[m] is the number of partitions m owns; m's partitions are in kept[m] (kept-valid)
 * or fresh[m] (received in this run); reachCounts[m * groupCount + g] is how many of them group g
 * subscribes to; groupHeaps[g] orders g's members by (count, rank). There are at most as many
 * groups as members, so reachCounts holds at most MAX_MEMBERS_PER_GROUP^2 int32s (4 MiB).
 */
class AssignmentPlan {
  private readonly members: AssignorMember[];
  private readonly topicNames: string[];
  private readonly topicIndexes = new Map<string, number>();
  private readonly partitionCounts: number[];
  private readonly owners: Int32Array[];
  /** Subscription groups subscribing to each topic, and how many members subscribe to it. */
  private readonly topicGroups: number[][];
  private readonly topicSubscriberCounts: number[];
  private readonly groupOf: Int32Array;
  private readonly groupTopics: Set<number>[] = [];
  private readonly groupHeaps: IndexedHeap[] = [];
  private readonly counts: Int32Array;
  private readonly kept: Map<number, number[]>[];
  private readonly fresh: Map<number, number[]>[];
  private readonly reachCounts: Int32Array;

  constructor(input: AssignorInput) {
    this.members = [...input.members].sort(compareRank);
    const memberCount = this.members.length;

    const subscribedNames = new Set<string>();
    for (const member of this.members) {
      for (const topic of member.topics) {
        if ((input.partitionCounts.get(topic) ?? 0) > 0) subscribedNames.add(topic);
      }
    }
    this.topicNames = [...subscribedNames].sort(compareStrings);
    this.topicNames.forEach((name, index) => this.topicIndexes.set(name, index));
    this.partitionCounts = this.topicNames.map((name) => input.partitionCounts.get(name)!);
    this.owners = this.partitionCounts.map((count) => new Int32Array(count).fill(NO_OWNER));
    this.topicGroups = this.topicNames.map(() => []);
    this.topicSubscriberCounts = this.topicNames.map(() => 0);

    // Subscription groups, numbered in rank order of their first member.
    this.groupOf = new Int32Array(memberCount);
    const groupIndexes = new Map<string, number>();
    const groupPositions = new Int32Array(memberCount).fill(-1);
    const isLessLoaded = (a: number, b: number) => this.isLessLoaded(a, b);
    const lastSubscriber = new Int32Array(this.topicNames.length).fill(-1);
    this.members.forEach((member, m) => {
      const topics: number[] = [];
      for (const name of member.topics) {
        const t = this.topicIndexes.get(name);
        if (t === undefined || lastSubscriber[t] === m) continue; // missing, or listed twice
        lastSubscriber[t] = m;
        topics.push(t);
        this.topicSubscriberCounts[t]! += 1;
      }
      topics.sort((a, b) => a - b);
      const key = topics.join(',');
      let g = groupIndexes.get(key);
      if (g === undefined) {
        g = this.groupTopics.length;
        groupIndexes.set(key, g);
        this.groupTopics.push(new Set(topics));
        this.groupHeaps.push(new IndexedHeap(groupPositions, isLessLoaded));
        for (const t of topics) this.topicGroups[t]!.push(g);
      }
      this.groupOf[m] = g;
    });

    this.counts = new Int32Array(memberCount);
    this.kept = this.members.map(() => new Map());
    this.fresh = this.members.map(() => new Map());
    this.reachCounts = new Int32Array(memberCount * this.groupTopics.length);
  }

  /** Phase 1: every member keeps its kept-valid partitions; the first claimant in rank order wins. */
  keepValidPrevious(): void {
    this.members.forEach((member, m) => {
      const subscribed = this.groupTopics[this.groupOf[m]!]!;
      for (const name of [...member.previous.keys()].sort(compareStrings)) {
        const t = this.topicIndexes.get(name);
        if (t === undefined || !subscribed.has(t)) continue;
        const owners = this.owners[t]!;
        const partitions = [...(member.previous.get(name) ?? [])].sort((a, b) => a - b);
        for (const p of partitions) {
          if (Number.isInteger(p) && p >= 0 && p < owners.length && owners[p] === NO_OWNER) {
            this.give(t, p, m, this.kept[m]!);
          }
        }
      }
    });
    this.members.forEach((_, m) => this.groupHeaps[this.groupOf[m]!]!.push(m));
  }

  /** Phase 2: unowned partitions go to the least-loaded subscriber, most constrained topics first. */
  fillUnowned(): void {
    const topicOrder = this.topicNames.map((_, t) => t);
    topicOrder.sort((a, b) => this.topicSubscriberCounts[a]! - this.topicSubscriberCounts[b]! || a - b);
    for (const t of topicOrder) {
      const owners = this.owners[t]!;
      for (let p = 0; p < owners.length; p++) {
        if (owners[p] !== NO_OWNER) continue;
        const m = this.leastLoadedOf(this.topicGroups[t]!);
        assert(m !== undefined, `topic ${this.topicNames[t]} has subscribers`);
        this.give(t, p, m, this.fresh[m]!);
        this.groupHeaps[this.groupOf[m]!]!.update(m);
      }
    }
  }

  /** Phase 3: single-partition moves from the most loaded member while one narrows the spread. */
  balance(): void {
    const memberCount = this.members.length;
    let sumOfSquares = 0;
    for (const count of this.counts) sumOfSquares += count * count;
    const moveLimit = Math.floor(sumOfSquares / 2);
    const donorPositions = new Int32Array(memberCount);
    const isMoreLoaded = (a: number, b: number) =>
      this.counts[a]! > this.counts[b]! || (this.counts[a] === this.counts[b] && a < b);
    let moveCount = 0;
    let isStable = false;
    for (let round = 0; round <= moveLimit && !isStable; round++) {
      const movesBefore = moveCount;
      donorPositions.fill(-1);
      const donors = new IndexedHeap(donorPositions, isMoreLoaded);
      for (let m = 0; m < memberCount; m++) if (this.counts[m]! >= 2) donors.push(m);
      // Each step pops a member (at most memberCount + one per move) or makes a move.
      const stepLimit = memberCount + 2 * (moveLimit - moveCount) + 1;
      for (let step = 0; step < stepLimit && donors.size > 0; step++) {
        const a = donors.peek()!;
        const b = this.bestTaker(a);
        if (b === undefined || this.counts[b]! > this.counts[a]! - 2) {
          donors.pop();
          continue;
        }
        this.move(a, b);
        moveCount += 1;
        assert(moveCount <= moveLimit, 'every move lowers the sum of squared counts by at least 2');
        donors.update(a);
        if (donors.has(b)) donors.update(b);
        else if (this.counts[b]! >= 2) donors.push(b);
      }
      assert(donors.size === 0, 'a round ends when every member has been looked at');
      isStable = moveCount === movesBefore;
    }
    assert(isStable, 'balancing ends with a round that moves nothing');
  }

  /** The postcondition of phase 3, checked in O(P + sum of groups per topic). */
  assertLocallyBalanced(): void {
    this.owners.forEach((owners, t) => {
      let maxOwnerCount = 0;
      for (const m of owners) {
        assert(m !== NO_OWNER, `partition of ${this.topicNames[t]} left unowned`);
        maxOwnerCount = Math.max(maxOwnerCount, this.counts[m]!);
      }
      const leastLoaded = this.leastLoadedOf(this.topicGroups[t]!);
      assert(leastLoaded !== undefined, 'a topic with partitions has subscribers');
      assert(this.counts[leastLoaded]! >= maxOwnerCount - 1, `topic ${this.topicNames[t]} is not balanced`);
    });
  }

  toGroupAssignment(): GroupAssignment {
    const assignments: Map<string, number[]>[] = this.members.map(() => new Map());
    const result: GroupAssignment = new Map();
    const byMemberId = this.members.map((_, m) => m);
    byMemberId.sort((a, b) => compareStrings(this.members[a]!.memberId, this.members[b]!.memberId));
    for (const m of byMemberId) result.set(this.members[m]!.memberId, assignments[m]!);
    this.owners.forEach((owners, t) => {
      const name = this.topicNames[t]!;
      owners.forEach((m, p) => {
        const assignment = assignments[m]!;
        const partitions = assignment.get(name);
        if (partitions === undefined) assignment.set(name, [p]);
        else partitions.push(p);
      });
    });
    return result;
  }

  private isLessLoaded(a: number, b: number): boolean {
    const countA = this.counts[a]!;
    const countB = this.counts[b]!;
    return countA < countB || (countA === countB && a < b);
  }

  /** The least-loaded member of the given groups; undefined if they are all empty. */
  private leastLoadedOf(groups: readonly number[]): number | undefined {
    let best: number | undefined;
    for (const g of groups) {
      const candidate = this.groupHeaps[g]!.peek();
      if (candidate === undefined) continue;
      if (best === undefined || this.isLessLoaded(candidate, best)) best = candidate;
    }
    return best;
  }

  /**
   * The least-loaded member that subscribes to a topic `a` owns a partition of. A group whose
   * least-loaded member is `a` itself has nobody below `a`, so it is skipped.
   */
  private bestTaker(a: number): number | undefined {
    const groupCount = this.groupTopics.length;
    let best: number | undefined;
    for (let g = 0; g < groupCount; g++) {
      if (this.reachCounts[a * groupCount + g] === 0) continue;
      const candidate = this.groupHeaps[g]!.peek();
      if (candidate === undefined || candidate === a) continue;
      if (best === undefined || this.isLessLoaded(candidate, best)) best = candidate;
    }
    return best;
  }

  private move(a: number, b: number): void {
    const takerTopics = this.groupTopics[this.groupOf[b]!]!;
    const source = this.firstTopicIn(this.fresh[a]!, takerTopics) ?? this.firstTopicIn(this.kept[a]!, takerTopics);
    assert(source !== undefined, 'the taker subscribes to a topic the giver owns');
    const [holdings, t, partitions] = source;
    const p = partitions.pop()!;
    if (partitions.length === 0) holdings.delete(t);
    this.take(t, p, a);
    this.give(t, p, b, this.fresh[b]!);
    this.groupHeaps[this.groupOf[a]!]!.update(a);
    this.groupHeaps[this.groupOf[b]!]!.update(b);
  }

  private firstTopicIn(
    holdings: Map<number, number[]>,
    topics: Set<number>,
  ): [Map<number, number[]>, number, number[]] | undefined {
    for (const [t, partitions] of holdings) if (topics.has(t)) return [holdings, t, partitions];
    return undefined;
  }

  private give(t: number, p: number, m: number, holdings: Map<number, number[]>): void {
    const owners = this.owners[t]!;
    assert(owners[p] === NO_OWNER, 'a partition has one owner');
    assert(this.groupTopics[this.groupOf[m]!]!.has(t), 'owners subscribe to the topic');
    owners[p] = m;
    const partitions = holdings.get(t);
    if (partitions === undefined) holdings.set(t, [p]);
    else partitions.push(p);
    this.counts[m]! += 1;
    const reachBase = m * this.groupTopics.length;
    for (const g of this.topicGroups[t]!) this.reachCounts[reachBase + g]! += 1;
  }

  /** Clears ownership; the caller has already removed `p` from the member's holdings. */
  private take(t: number, p: number, m: number): void {
    const owners = this.owners[t]!;
    assert(owners[p] === m, 'only the owner gives a partition away');
    owners[p] = NO_OWNER;
    this.counts[m]! -= 1;
    const reachBase = m * this.groupTopics.length;
    for (const g of this.topicGroups[t]!) this.reachCounts[reachBase + g]! -= 1;
  }
}
