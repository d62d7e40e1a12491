import { AssertionError, assert } from '../core/assert.js';
import {
  GroupMaxSizeReachedError,
  QueueGroupNotEmptyError,
  QueueGroupNotFoundError,
  ShuttingDownError,
  StorageFailedError,
  type StrataError,
  UnknownMemberIdError,
} from '../core/errors.js';
import { MAX_QUEUE_GROUPS, MAX_QUEUE_MEMBERS_PER_GROUP, QUEUE_DEFAULT_IN_FLIGHT, QUEUE_HELD_BATCH_BYTES_PER_PARTITION, QUEUE_HELD_BATCH_BYTES_PER_SERVER } from '../core/limits.js';
import { planAnswers, planExtensions } from './queue-answers.js';
import type {
  QueueAnswer,
  QueueAnswerResult,
  QueueCoordinatorApi,
  QueueCoordinatorDependencies,
  QueueGroupDescription,
  QueueGroupSummary,
  QueueJoinRequest,
  QueueMemberHandle,
  QueuePartitionDescription,
  QueueRecordRef,
  QueueResetTarget,
} from './queue-coordinator-api.js';
import type { PartitionQueue } from './partition-queue.js';
import { type DeadLetterRun, QueueDeadLetters, toStrataError } from './queue-dead-letters.js';
import { QueueDeliveryPump } from './queue-delivery-pump.js';
import { describePartition, describeQueueGroup } from './queue-describe.js';
import { DeadlineTimer } from '../core/deadline-timer.js';
import { GroupHolders } from '../core/group-holders.js';
import { QueueGroup, type QueueMember } from './queue-group.js';
import { checkJoinConfig, type QueueGroupConfig, resolveQueueGroupConfig } from './queue-group-config.js';
import { checkDeadLetterTopics, checkJoinRequest, checkResetPartitions, resetOffsetOf, validateQueueGroupId } from './queue-requests.js';
import type { QueueStateChange } from './queue-state-changes.js';
import { retryBackoffMs } from './retry-backoff.js';
import { HeldBatchBudget, type HeldBatchLimits } from './window-batches.js';

/**
 * The queue groups of one server (see QueueCoordinatorApi for the contract and queue-design.md).
 *
 * Every change goes through commit(): applied in memory at once, by the same applyChange() that
 * replays the journal at startup, so that the next operation plans on it, then appended to the
 * journal; nothing that depends on it (an answer's result, a delivery) is let out before the append
 * is durable. A failed append fences the group (QueueGroup.failure): memory may then be ahead of the
 * log, so the group refuses everything until a restart rebuilds it from what is durable. The journal
 * writes one group's appends in the order they are made (its contract), so memory and log agree on order.
 */
export class QueueCoordinator implements QueueCoordinatorApi {
  private readonly groups = new Map<string, QueueGroup>();
  private readonly memberGroups = new Map<string, QueueGroup>();
  private readonly pump: QueueDeliveryPump;
  private readonly deadLetterer: QueueDeadLetters;
  /** Appends and dead-letter runs under way: close() waits for them. */
  private readonly pendingWork = new Set<Promise<unknown>>();
  private isStarted = false;
  /** close() began: no new operation, delivery or expiry; work under way (an archive after its dead letter) still writes. */
  private isClosing = false;
  private isClosed = false;
  private memberSequence = 0;
  /** Stored batches the groups' windows hold for their deliveries, bounded per partition and for the server. */
  private readonly heldBatches: HeldBatchLimits;
  /** Which principals hold which groups through their live members (max_groups). */
  private readonly holders: GroupHolders;

  constructor(private readonly deps: QueueCoordinatorDependencies) {
    this.holders = new GroupHolders(deps.groupQuota);
    const { perServer = QUEUE_HELD_BATCH_BYTES_PER_SERVER, perPartition = QUEUE_HELD_BATCH_BYTES_PER_PARTITION } = deps.heldBatchBytes ?? {};
    this.heldBatches = { budget: new HeldBatchBudget(perServer), maxBytesPerPartition: perPartition };
    const isCurrent = (group: QueueGroup) => !this.isClosing && this.groups.get(group.groupId) === group;
    const commit = (group: QueueGroup, changes: QueueStateChange[]) => this.commit(group, changes);
    this.pump = new QueueDeliveryPump(deps, commit, isCurrent, (group) => this.onTimer(group), (work) => this.track(work), (memberId) => {
      this.track(this.removeMember(memberId, 'failed a delivery'));
    });
    // Not isCurrent: a dead letter appended while close() runs still writes its 'archive' (close waits for it).
    this.deadLetterer = new QueueDeadLetters(deps, commit, (group) => this.groups.get(group.groupId) === group, (group) => this.pump.schedule(group));
  }

  /** Bytes of stored batches the windows hold now, over all groups (bounded by heldBatchBytes.perServer). */
  heldBatchBytes(): number {
    return this.heldBatches.budget.usedBytes;
  }

  async start(): Promise<void> {
    assert(!this.isStarted, 'QueueCoordinator.start() is called once');
    this.deps.journal.setSnapshotSource((groupId) => {
      const group = this.groups.get(groupId);
      // A fenced group's memory holds changes the journal refused (their callers were told so): a
      // snapshot would make them durable after all. Its partition is not compacted until a restart.
      if (group?.failure) throw group.failure;
      return group?.snapshotChanges(this.deps.clock.nowMs()) ?? [];
    });
    await this.deps.journal.replay((change) => this.applyChange(change, true));
    this.isStarted = true;
    for (const group of this.groups.values()) {
      // A group whose part of the state topic is damaged has unknown state: it serves nothing, expires nothing.
      const damage = this.deps.journal.damageOf?.(group.groupId);
      if (damage) group.failure = damage;
      else this.startTimer(group);
    }
  }

  async join(request: QueueJoinRequest): Promise<QueueMemberHandle> {
    this.checkOpen();
    checkJoinRequest(request, this.deps.topics);
    this.checkDamage(request.groupId);
    // Counted before the group can be created (a refused join creates nothing), uncounted if the join fails.
    this.holders.memberJoining(request.groupId, request.principal);
    try {
      return await this.joinCounted(request);
    } catch (error) {
      this.holders.memberLeft(request.groupId, request.principal);
      throw error;
    }
  }

  private async joinCounted(request: QueueJoinRequest): Promise<QueueMemberHandle> {
    let group = this.groups.get(request.groupId);
    if (group) {
      checkJoinConfig(request.config ?? {}, group.config, request.groupId);
    } else {
      if (this.groups.size >= MAX_QUEUE_GROUPS) throw new GroupMaxSizeReachedError(`the server has ${this.groups.size} queue groups, the most it keeps (MAX_QUEUE_GROUPS)`);
      const config = resolveQueueGroupConfig(request.config ?? {});
      checkDeadLetterTopics(request.topics, config);
      // Created in memory at once, so a second join racing this one finds it (and joins after its config is written).
      const change: QueueStateChange = { type: 'config', groupId: request.groupId, config, atMs: this.deps.clock.nowMs() };
      this.applyChange(change);
      group = this.groups.get(request.groupId)!;
      await this.append(group, [change]);
      if (this.groups.get(request.groupId) !== group) throw new QueueGroupNotFoundError(`queue group '${request.groupId}' was deleted while it was being joined`);
    }
    checkDeadLetterTopics(request.topics, group.config);
    if (group.failure) throw group.failure;
    if (group.members.size >= MAX_QUEUE_MEMBERS_PER_GROUP) {
      throw new GroupMaxSizeReachedError(`queue group '${request.groupId}' has ${group.members.size} members, the most it may have (MAX_QUEUE_MEMBERS_PER_GROUP)`);
    }
    const member: QueueMember = {
      memberId: this.newMemberId(),
      clientId: request.clientId,
      topics: [...request.topics],
      inFlightLimit: request.inFlightLimit === 0 ? QUEUE_DEFAULT_IN_FLIGHT : request.inFlightLimit,
      deliver: request.deliver,
      isReady: true,
      undelivered: 0,
      principal: request.principal,
    };
    group.members.set(member.memberId, member);
    this.memberGroups.set(member.memberId, group);
    this.deps.logger?.info?.({ groupId: group.groupId, memberId: member.memberId, clientId: member.clientId, topics: member.topics }, 'queue group: member joined');
    this.pump.schedule(group);
    return { memberId: member.memberId, config: { ...group.config } };
  }

  async answer(memberId: string, answers: readonly QueueAnswer[]): Promise<QueueAnswerResult[]> {
    const group = this.groupOfMember(memberId);
    const plan = planAnswers(group, memberId, answers, this.deps.clock.nowMs(), this.deps.random);
    const written = this.commit(group, plan.changes);
    // Each starts at once (marking its records) so that no later answer or expiry takes them meanwhile.
    const deadLettered = plan.deadLetters.map(async (request) => {
      const errors = await this.deadLetter(group, request);
      for (const i of request.answerIndexes) {
        const error = errors.get(answers[i]!.offset);
        if (error) plan.results[i] = { ...plan.results[i]!, error };
      }
    });
    this.pump.schedule(group);
    await written;
    await Promise.all(deadLettered);
    this.pump.schedule(group);
    return plan.results;
  }

  async extendLocks(memberId: string, records: readonly QueueRecordRef[], lockMs: number): Promise<QueueAnswerResult[]> {
    const group = this.groupOfMember(memberId);
    const plan = planExtensions(group, memberId, records, lockMs, this.deps.clock.nowMs());
    await this.commit(group, plan.changes);
    return plan.results;
  }

  setDeliveryReady(memberId: string, isReady: boolean): void {
    const group = this.memberGroups.get(memberId);
    const member = group?.members.get(memberId);
    if (!group || !member) return;
    member.isReady = isReady;
    if (isReady) this.pump.schedule(group);
  }

  leave(memberId: string): Promise<void> {
    return this.removeMember(memberId, 'left');
  }

  streamLost(memberId: string): Promise<void> {
    return this.removeMember(memberId, 'lost its stream');
  }

  listGroups(): QueueGroupSummary[] {
    return [...this.groups.values()]
      .map((group) => ({ groupId: group.groupId, memberCount: group.members.size, topics: group.topics() }))
      .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  }

  /**
   * Every queue group that reads `topic` (a member subscribed, or state kept) and its start offset in
   * `partition` (everything below is acknowledged or dead-lettered): undefined when it has no state
   * there yet or its state is unknown (a failed or damaged group), i.e. nothing counts as done.
   */
  progressOf(topic: string, partition: number): Array<{ groupId: string; startOffset: number | undefined }> {
    const out: Array<{ groupId: string; startOffset: number | undefined }> = [];
    for (const group of this.groups.values()) {
      const queue = group.partitionQueue(topic, partition);
      if (!queue && !group.topics().includes(topic)) continue;
      const isKnown = !group.failure && !this.deps.journal.damageOf?.(group.groupId);
      out.push({ groupId: group.groupId, startOffset: isKnown ? queue?.startOffset : undefined });
    }
    return out;
  }

  async describeGroup(groupId: string): Promise<QueueGroupDescription> {
    return describeQueueGroup(this.groupOf(groupId), this.deps.topics, this.deps.clock.nowMs());
  }

  async alterConfig(groupId: string, partial: Partial<QueueGroupConfig>): Promise<QueueGroupConfig> {
    this.checkOpen();
    const group = this.groupOf(groupId);
    const config = resolveQueueGroupConfig(partial ?? {}, group.config);
    checkDeadLetterTopics(group.topics(), config);
    await this.commit(group, [{ type: 'config', groupId, config, atMs: this.deps.clock.nowMs() }]);
    this.pump.schedule(group);
    return { ...group.config };
  }

  async reset(groupId: string, topic: string, to: QueueResetTarget, partitions?: readonly number[]): Promise<QueuePartitionDescription[]> {
    this.checkOpen();
    const group = this.groupOf(groupId);
    this.checkEmpty(group, 'reset');
    const chosen = checkResetPartitions(topic, partitions, this.deps.topics);
    const changes: QueueStateChange[] = [];
    for (const partition of chosen) {
      const startOffset = await resetOffsetOf(to, this.deps.topics.partition(topic, partition));
      changes.push({ type: 'reset', groupId, topic, partition, startOffset, atMs: this.deps.clock.nowMs() });
    }
    this.checkEmpty(group, 'reset'); // a member may have joined while the time index was searched
    await this.commit(group, changes);
    const nowMs = this.deps.clock.nowMs();
    return Promise.all(chosen.map((partition) => describePartition(group, group.partitionQueue(topic, partition)!, this.deps.topics, nowMs)));
  }

  async deleteGroup(groupId: string): Promise<void> {
    this.checkOpen();
    const group = this.groupOf(groupId);
    this.checkEmpty(group, 'delete');
    await this.commit(group, [{ type: 'delete', groupId, atMs: this.deps.clock.nowMs() }]);
  }

  async onTopicDeleted(topic: string): Promise<void> {
    this.checkOpen();
    const writes: Array<Promise<void>> = [];
    for (const group of this.groups.values()) {
      if (group.failure || !group.partitionQueues().some((queue) => queue.topic === topic)) continue;
      writes.push(this.commit(group, [{ type: 'forget-topic', groupId: group.groupId, topic, atMs: this.deps.clock.nowMs() }]));
    }
    const outcomes = await Promise.allSettled(writes);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * A purge moved the log start of `topic`'s partitions: each group reading it skips up to the new
   * start now (as after retention: held records there are let go, never dead-lettered) and fills
   * its window from there, rather than at its next read or lock expiry.
   */
  onLogStartMoved(topic: string): void {
    if (this.isClosing) return;
    for (const group of this.groups.values()) {
      if (group.failure || !group.partitionQueues().some((queue) => queue.topic === topic)) continue;
      this.skipRemoved(group);
      this.pump.schedule(group);
    }
  }

  async close(): Promise<void> {
    if (this.isClosing) return;
    this.isClosing = true;
    for (const group of this.groups.values()) group.stop();
    // Dead-letter runs under way still write their 'archive', so a clean shutdown leaves no duplicate behind.
    while (this.pendingWork.size > 0) await Promise.allSettled([...this.pendingWork]);
    this.isClosed = true;
  }

  /** The one way state changes, live (right after commit() made the change) and at replay. */
  private applyChange(change: QueueStateChange, isReplay = false): void {
    const group = this.groups.get(change.groupId);
    if (change.type === 'config' && !group) {
      const created = new QueueGroup(change.groupId, change.config, this.heldBatches);
      this.groups.set(change.groupId, created);
      if (this.isStarted) this.startTimer(created);
      return;
    }
    if (!group) {
      // A change of a group deleted earlier in the log (the state topic keeps what compaction has not cut yet).
      if (!isReplay) throw new AssertionError(`${change.type} of queue group ${change.groupId}, which does not exist`);
      return;
    }
    if (change.type === 'delete') {
      group.stop();
      this.groups.delete(change.groupId);
      for (const memberId of group.members.keys()) this.memberGroups.delete(memberId);
      this.holders.groupGone(change.groupId);
      return;
    }
    // Compaction keeps the records before the snapshot in the segment it began in: a 'config' there
    // (an alter) remakes a group whose first records were cut, without the partitions its later
    // records there change. Those are skipped like a cut group's; the snapshot after them restores all.
    if (isReplay && 'partition' in change && change.type !== 'reset' && change.type !== 'snapshot' && !group.partitionQueue(change.topic, change.partition)) return;
    group.apply(change);
  }

  private commit(group: QueueGroup, changes: QueueStateChange[]): Promise<void> {
    if (this.isClosed) return Promise.reject(new ShuttingDownError('the queue coordinator is closed'));
    if (group.failure) return Promise.reject(group.failure);
    if (changes.length === 0) return Promise.resolve();
    for (const change of changes) this.applyChange(change);
    return this.append(group, changes);
  }

  /** The durable half of commit(), for changes applied already. */
  private append(group: QueueGroup, changes: QueueStateChange[]): Promise<void> {
    const written = this.deps.journal.append(group.groupId, changes).then(
      () => undefined,
      (error: unknown) => {
        const failure = toStrataError(error);
        if (!group.failure) {
          // What the group refuses with until a restart: never "retry" (a full queue's code), as no retry can succeed.
          group.failure = failure.retriable
            ? new StorageFailedError(`queue group '${group.groupId}' serves nothing until a restart: a state change could not be written (${failure.code}: ${failure.message})`, { cause: failure })
            : failure;
          group.stop();
          this.deps.logger?.warn({ groupId: group.groupId, err: failure }, 'queue group: a state change could not be made durable; the group refuses everything until a restart');
        }
        throw failure;
      },
    );
    this.track(written);
    return written;
  }

  /** Lock expiries (release with backoff, or dead-letter past the delivery limit), then the next deadline and a pump run. */
  private onTimer(group: QueueGroup): void {
    if (this.isClosing || this.groups.get(group.groupId) !== group || group.failure) return;
    const nowMs = this.deps.clock.nowMs();
    this.skipRemoved(group);
    const { changes, deadLetters } = this.releaseAll(group, nowMs, (queue) => queue.expired(nowMs));
    if (changes.length > 0) this.commit(group, changes).catch(() => undefined);
    for (const request of deadLetters) void this.deadLetter(group, request);
    let nextMs = Number.POSITIVE_INFINITY;
    for (const queue of group.partitionQueues()) nextMs = Math.min(nextMs, queue.nextDeadlineMs(nowMs));
    group.timer?.fireAt(nextMs);
    this.pump.schedule(group);
  }

  /** Records retention removed are never expired nor dead-lettered (they cannot be read): the start moves past them. */
  private skipRemoved(group: QueueGroup): void {
    for (const queue of group.partitionQueues()) {
      try {
        queue.skipTo(this.deps.topics.partition(queue.topic, queue.partition).logStartOffset);
      } catch {
        // The topic is gone: onTopicDeleted forgets it.
      }
    }
  }

  /** Changes releasing the records `pick` names, each after its backoff, and dead-letter requests for those at the delivery limit. */
  private releaseAll(group: QueueGroup, nowMs: number, pick: (queue: PartitionQueue) => number[]): { changes: QueueStateChange[]; deadLetters: DeadLetterRun[] } {
    const changes: QueueStateChange[] = [];
    const deadLetters: DeadLetterRun[] = [];
    for (const queue of group.partitionQueues()) {
      const offsets = pick(queue);
      if (offsets.length === 0) continue;
      const released: number[] = [];
      const eligibleAtMs: number[] = [];
      const exhausted: number[] = [];
      const reasons = new Map<number, string>();
      for (const offset of offsets) {
        const record = queue.get(offset)!;
        if (record.deliveryCount >= group.config.maxDeliveryAttempts) {
          exhausted.push(offset);
          reasons.set(offset, record.lastError);
        } else {
          released.push(offset);
          eligibleAtMs.push(nowMs + retryBackoffMs(group.config, record.deliveryCount, this.deps.random));
        }
      }
      if (released.length > 0) changes.push({ type: 'release', groupId: group.groupId, topic: queue.topic, partition: queue.partition, offsets: released, eligibleAtMs, atMs: nowMs });
      if (exhausted.length > 0) deadLetters.push({ queue, offsets: exhausted, cause: 'max-delivery-attempts', reasons });
    }
    return { changes, deadLetters };
  }

  private async removeMember(memberId: string, why: string): Promise<void> {
    const group = this.memberGroups.get(memberId);
    if (!group) return;
    this.memberGroups.delete(memberId);
    this.holders.memberLeft(group.groupId, group.members.get(memberId)?.principal);
    group.members.delete(memberId);
    this.deps.logger?.info?.({ groupId: group.groupId, memberId }, `queue group: member ${why}; its records are released`);
    if (this.isClosing || group.failure || this.groups.get(group.groupId) !== group) return;
    const nowMs = this.deps.clock.nowMs();
    const { changes, deadLetters } = this.releaseAll(group, nowMs, (queue) => queue.heldBy(memberId));
    const written = this.commit(group, changes);
    const deadLettered = deadLetters.map((request) => this.deadLetter(group, request));
    this.pump.schedule(group);
    await written;
    await Promise.all(deadLettered);
  }

  /** A dead-letter run that close() waits for, whoever started it (an answer, an expiry, a member leaving). */
  private deadLetter(group: QueueGroup, request: DeadLetterRun): Promise<Map<number, StrataError>> {
    const run = this.deadLetterer.run(group, request);
    this.track(run);
    return run;
  }

  private startTimer(group: QueueGroup): void {
    group.timer = new DeadlineTimer(this.deps.clock, () => this.onTimer(group));
    // Locks that ended while the server was down expire now; the rest when due.
    group.timer.fireAt(this.deps.clock.nowMs());
  }

  /** A group an admin call names: QueueGroupNotFoundError, or the DataLossError of a damaged one. */
  private groupOf(groupId: string): QueueGroup {
    validateQueueGroupId(groupId);
    this.checkDamage(groupId);
    const group = this.groups.get(groupId);
    if (!group) throw new QueueGroupNotFoundError(`queue group '${groupId}' does not exist`);
    return group;
  }

  private checkDamage(groupId: string): void {
    const damage = this.deps.journal.damageOf?.(groupId);
    if (damage) throw damage;
  }

  private groupOfMember(memberId: string): QueueGroup {
    this.checkOpen();
    const group = typeof memberId === 'string' ? this.memberGroups.get(memberId) : undefined;
    if (!group) throw new UnknownMemberIdError(`no queue group has a member ${JSON.stringify(memberId)} (it left, its stream ended, or the server restarted): join again`);
    if (group.failure) throw group.failure;
    return group;
  }

  private checkEmpty(group: QueueGroup, action: string): void {
    if (group.members.size > 0) throw new QueueGroupNotEmptyError(`queue group '${group.groupId}' has ${group.members.size} members: stop them before you ${action} it`);
  }

  private checkOpen(): void {
    if (this.isClosing) throw new ShuttingDownError('the queue coordinator is closed');
    assert(this.isStarted, 'QueueCoordinator.start() must complete before use');
  }

  private newMemberId(): string {
    let hex = '';
    for (let i = 0; i < 2; i++) hex += Math.floor(this.deps.random.next() * 0x1_0000_0000).toString(16).padStart(8, '0');
    return `q-${(++this.memberSequence).toString(36)}-${hex}`;
  }

  private track(work: Promise<unknown>): void {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.pendingWork.add(settled);
    void settled.then(() => this.pendingWork.delete(settled));
  }
}
