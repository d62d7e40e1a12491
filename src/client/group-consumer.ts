import type { GroupHeartbeatRequest } from '../generated/strata/v1/GroupHeartbeatRequest.js';
import type { GroupHeartbeatResponse__Output } from '../generated/strata/v1/GroupHeartbeatResponse.js';
import { setRepeating, type Clock, type TimerHandle } from '../core/clock.js';
import { FencedInstanceIdError } from '../core/errors.js';
import { DEFAULT_MEMBER_MAX_BYTES, FAIR_SLICE_RECORDS, MAX_ABANDONED_MEMBER_IDS } from '../core/limits.js';
import { StrataClientError } from './client-error.js';
import type { ConsumedRecord } from './consume.js';
import { AssignmentReconciler } from './assignment-reconciler.js';
import { EventLoopDelayWatch } from './event-loop-delay-watch.js';
import { GroupFetchers } from './group-fetchers.js';
import { GroupHeartbeatStream, heartbeatRequestOf } from './group-heartbeat-stream.js';
import { GroupOffsetCommitter, type MemberIdentity } from './group-offset-committer.js';
import { MemberPartitions, partitionKey as key } from './member-partitions.js';
import { RecordBuffer } from './record-buffer.js';
import { resolveFailurePolicy, type RecordHandler } from './group-failure-policy.js';
import { MemberReaders } from './member-readers.js';
import { decodeBatches, decodeRecords, decodingHandler, hasDeserializers } from './deserializing-records.js';
import type { ClientChannel } from './client-channel.js';
import { checkGroupConsumerOptions, DEFAULT_LEAVE_TIMEOUT_MS, type GroupConsumerLogger, type GroupConsumerOptions, type TopicPartition } from './group-consumer-options.js';

export type { CommitFailure, CommitTrigger, GroupConsumerLogger, GroupConsumerOptions, TopicPartition, TopicPartitionOffset } from './group-consumer-options.js';

const JOIN_EPOCH = 0;
const LEAVE_EPOCH = -1;
const STATIC_LEAVE_EPOCH = -2;
/** An event-loop stall of this share of the session timeout is warned about. */
const STALL_WARNING_SHARE = 0.5;
/** How often the session is checked when the loop does not ask for records. */
const SESSION_CHECK_EVERY_MS = 250;

const emitWarning: GroupConsumerLogger = { warn: (fields, message) => process.emitWarning(`${message} ${JSON.stringify(fields)}`, 'StrataGroupConsumerWarning') };

/**
 * A member of a consumer group. Iterate it to get records; a record counts as processed once the
 * loop asks for the next one, and processed offsets are committed (at-least-once) on a timer, when
 * partitions are revoked, on commit() and on close(). The record in hand when the loop ends (a
 * `break`, a throw, close()) is not processed: the loop cannot tell a record it finished from one it
 * failed on, so that record is read again by whoever reads the partition next. A loop that stops
 * after finishing a record calls commit() before its `break` (commit() from the loop counts the
 * record in hand). Rebalances reach the loop only as the onAssigned / onRevoked hooks: the
 * iteration itself goes on. process(handler) is the other way to read it: a record is processed
 * when its handler resolves, and a throw follows the `onFailure` policy (retries in place, then the
 * dead-letter topic: GroupRecordProcessor).
 *
 * The server decides the assignment (see the GroupService); this side heartbeats, follows the
 * assignment (let go of revoked partitions first, then start on new ones from the committed offset)
 * and reads with one Subscribe stream per topic.
 *
 * Liveness: the iterator gives the event loop a turn every few milliseconds, so heartbeats go out
 * under a busy loop; a stall near the session timeout is warned about. A member whose heartbeats
 * went unanswered for the session timeout may have been removed, its partitions given to others: it
 * stops handing out their records at once, calls onLost (default onRevoked) and rejoins, as Kafka's
 * consumer does. A static member whose instance id a newer member took is fenced for good: the
 * iteration ends with FencedInstanceIdError and it does not rejoin.
 */
export class GroupConsumer implements AsyncIterable<ConsumedRecord> {
  private memberId = '';
  private memberEpoch = JOIN_EPOCH;
  /** The group's offset-reset epoch as last seen; undefined before the first answer. */
  private offsetsEpoch: number | undefined;
  private readonly heartbeats: GroupHeartbeatStream;
  private readonly abandonedMemberIds: string[] = [];
  /** Bumped when every partition is lost: assignments computed before it are stale. */
  private generation = 0;
  private readonly loopWatch: EventLoopDelayWatch;
  private readonly logger: GroupConsumerLogger;
  /** Fenced (FENCED_INSTANCE_ID): stopped for good, without leaving. */
  private isFenced = false;
  private sessionTimer: TimerHandle | undefined;
  private readonly partitions = new MemberPartitions();
  private readonly committer: GroupOffsetCommitter;
  private readonly reconciler: AssignmentReconciler;
  private readonly buffer: RecordBuffer<ConsumedRecord>;
  private readonly fetchers: GroupFetchers;
  private reconciling: Promise<void> = Promise.resolve();
  private lastAskedAtMs: number;
  private isClosed = false;
  private readonly clock: Clock;
  private closing: Promise<void> | undefined;
  private failure: Error | undefined;
  /** Iteration or process(): see MemberReaders. */
  private readonly readers: MemberReaders;

  constructor(
    client: ClientChannel,
    private readonly options: GroupConsumerOptions,
  ) {
    this.clock = client.clock;
    this.lastAskedAtMs = this.clock.nowMs();
    checkGroupConsumerOptions(options);
    this.logger = options.logger ?? emitWarning;
    // Round robin across partitions, a slice at a time: a backlog on one never starves the others.
    this.buffer = new RecordBuffer(options.bufferRecords ?? 1_000, { sliceItems: FAIR_SLICE_RECORDS });
    this.readers = new MemberReaders({
      client,
      clock: this.clock,
      groupId: options.groupId,
      logger: this.logger,
      buffer: this.buffer,
      partitions: this.partitions,
      failurePolicy: options.onFailure ? resolveFailurePolicy(options.onFailure) : undefined,
      isHandable: (k) => this.isHandable(k),
      noteAsked: (nowMs) => {
        this.lastAskedAtMs = nowMs;
        this.checkSession(nowMs);
      },
      checkSession: (nowMs) => this.checkSession(nowMs),
      commitProcessed: async () => void (await this.committer.commitProcessed('dead-letter')),
      fail: (error) => this.fail(error),
      failure: () => this.failure,
      close: () => this.close(),
    });
    this.fetchers = new GroupFetchers({
      client,
      buffer: this.buffer,
      fromBeginning: options.fromBeginning ?? false,
      maxBytes: options.maxBytes ?? DEFAULT_MEMBER_MAX_BYTES,
      owned: () => this.partitions.owned.values(),
      resumeOffset: (topic, partition) => this.partitions.resumeOffset(key(topic, partition)),
      onStartResolved: (topic, partition, offset) => this.partitions.noteStart(key(topic, partition), offset),
      onOffsetReset: (topic, partition, offset) => {
        const k = key(topic, partition);
        if (this.partitions.resetPosition(k, offset)) this.readers.processor?.forget((handedKey) => handedKey === k);
      },
      onFailure: (error) => this.fail(error),
      ...(options.onThrottled ? { onThrottled: options.onThrottled } : {}),
    });
    this.loopWatch = new EventLoopDelayWatch({
      clock: this.clock,
      sampleEveryMs: 100,
      thresholdMs: () => this.heartbeats.sessionTimeoutMs * STALL_WARNING_SHARE,
      onStall: (delayMs) => {
        this.logger.warn(
          { groupId: options.groupId, memberId: this.memberId, delayMs, sessionTimeoutMs: this.heartbeats.sessionTimeoutMs },
          'group consumer: the event loop was blocked for a long share of the session timeout, so heartbeats could not go out: await between long computations, or the member is removed and its partitions move',
        );
      },
    });
    this.loopWatch.start();
    this.heartbeats = new GroupHeartbeatStream({
      client,
      request: (memberEpoch) => this.heartbeatRequest(memberEpoch),
      isJoining: () => this.memberId === '',
      isClosed: () => this.isClosed,
      onAnswer: (response) => this.onResponse(response),
    });
    this.heartbeats.start();
    this.committer = new GroupOffsetCommitter({ client, consumerOptions: options, logger: this.logger, partitions: this.partitions, identity: () => this.memberIdentity() });
    this.committer.startTimer(options.autoCommitIntervalMs ?? 5_000);
    this.reconciler = new AssignmentReconciler({
      consumerOptions: options,
      partitions: this.partitions,
      committer: this.committer,
      fetchers: this.fetchers,
      buffer: this.buffer,
      isClosed: () => this.isClosed,
      generation: () => this.generation,
      isInGroup: () => this.memberId !== '',
      sendHeartbeat: () => this.heartbeats.send(),
      settleRevoked: async (keys) => this.readers.processor?.settle(keys),
      forgetAll: () => this.readers.processor?.forget(() => true),
    });
    // The loop checks the session before every record; this checks it for a loop that is not asking.
    this.sessionTimer = setRepeating(this.clock, () => this.checkSession(this.clock.nowMs()), SESSION_CHECK_EVERY_MS);
  }

  /** The partitions this member reads now. */
  assignment(): TopicPartition[] {
    return [...this.partitions.owned.values()];
  }

  get currentMemberId(): string {
    return this.memberId;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ConsumedRecord> {
    const records = this.readers.records();
    return hasDeserializers(this.options) ? (decodeRecords(records, this.options) as AsyncIterableIterator<never>) : records;
  }

  /**
   * Runs `handler` on every record, one call at a time, each partition's records in offset order; a
   * record counts as processed once its handler resolved. A throw, with `onFailure`: the record is
   * tried again in place after a backoff (its partition waits, the others go on), then appended to
   * the dead-letter topic and committed past (see GroupRecordProcessor); without it, the member stops
   * and process() rejects with the throw. Resolves once the member is closed (close(), or `signal`
   * aborted); rejects with what stopped it otherwise (a fence, a failed dead-letter append).
   */
  process(handler: RecordHandler, options: { signal?: AbortSignal } = {}): Promise<void> {
    const decoding = hasDeserializers(this.options) ? decodingHandler(handler as never, this.options, this.options.onFailure !== undefined) : handler;
    return this.readers.process(decoding, options.signal);
  }

  /**
   * The same records in batches: each batch holds what has arrived (at least one record, at most
   * `maxRecords`); a batch is processed once the loop asks for the next one. Leaving the loop
   * (break, throw, close()) leaves the whole batch in hand to be read again: commit() first counts it.
   */
  batches(maxRecords = 500): AsyncGenerator<ConsumedRecord[]> {
    const batches = this.readers.batches(maxRecords);
    return hasDeserializers(this.options) ? (decodeBatches(batches, this.options) as AsyncGenerator<never>) : batches;
  }

  /**
   * No heartbeat answered within the session timeout: the coordinator may have removed this member
   * and given its partitions to others, so none of their records may go to the loop any more.
   */
  private checkSession(nowMs: number): void {
    if (this.isClosed || this.partitions.owned.size === 0 || !this.heartbeats.liveness.isExpired(nowMs, this.heartbeats.sessionTimeoutMs, this.brokenStreamLimitMs())) return;
    this.loseAll(nowMs);
  }

  /**
   * How long a dynamic member's heartbeat stream may stay broken before it stops reading: half the
   * server's grace, since the server may have seen the stream break before this side did and its
   * removal frees the partitions. A static member keeps its session on the server.
   */
  private brokenStreamLimitMs(): number | undefined {
    const graceMs = this.heartbeats.streamLostGraceMs;
    return this.options.instanceId || graceMs === undefined ? undefined : Math.floor(graceMs / 2);
  }

  /** Whether a buffered record of partition `k` may still go to the loop. */
  private isHandable(k: string): boolean {
    return !this.isClosed && this.partitions.owned.has(k) && !this.partitions.revoking.has(k);
  }

  /**
   * Commits the offsets of every processed record (the next offset to read, per partition). The
   * record (or batch) in hand counts as processed: call it from the loop once that record is done,
   * not from elsewhere (a signal handler, onRevoked) while the loop may still be working on it.
   */
  async commit(): Promise<void> {
    this.partitions.markProcessed();
    await this.committer.commitProcessed('explicit');
  }

  /**
   * Commits what was processed (not the record in hand: see the class), leaves the group, and ends
   * the iteration. It resolves once the server acknowledged the leave (or after `leaveTimeoutMs`), so
   * `await consumer.close(); process.exit(0)` moves a dynamic member's partitions at once. A static
   * member steps away instead: it keeps its partitions until the session timeout, and gets them back
   * if it returns in time. A fenced member (FENCED_INSTANCE_ID) neither commits nor leaves.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.isClosed = true;
      // Heartbeats still go out while the record under way finishes (its signal is aborted).
      await this.readers.processor?.stop(this.options.leaveTimeoutMs ?? DEFAULT_LEAVE_TIMEOUT_MS);
      this.committer.stopTimer();
      this.sessionTimer?.cancel();
      this.heartbeats.pause();
      this.loopWatch.stop();
      await this.reconciling.catch(() => undefined);
      this.fetchers.stop(() => true);
      // Records still buffered are not handed any more (their partitions are left): whoever reads
      // those partitions next gets them from the committed offsets.
      this.buffer.drop(() => true);
      if (!this.isFenced) {
        await this.committer.commitProcessed('close');
        await this.heartbeats.untilJoinSettled(this.options.leaveTimeoutMs ?? DEFAULT_LEAVE_TIMEOUT_MS);
        await this.leave();
      }
      this.heartbeats.stop();
      this.buffer.close();
    })();
    return this.closing;
  }

  /** Leaves (-1; a static member steps away, -2) and waits for the answer: see GroupHeartbeatStream.leave. */
  private async leave(): Promise<void> {
    if (!this.memberId) return;
    const request = this.heartbeatRequest(this.options.instanceId ? STATIC_LEAVE_EPOCH : LEAVE_EPOCH);
    await this.heartbeats.leave(request, this.options.leaveTimeoutMs ?? DEFAULT_LEAVE_TIMEOUT_MS);
  }

  /**
   * The member may have been removed (see checkSession): every partition is let go at once, without
   * a commit (a removed member's commits are refused; a slow server's would race the next owner),
   * onLost (default onRevoked) is called, and the member joins again owning nothing.
   */
  private loseAll(nowMs: number, isRemoved = false): void {
    const lost = [...this.partitions.owned.values()];
    this.generation++;
    this.fetchers.stop(() => true);
    this.buffer.drop(() => true);
    this.readers.processor?.forget(() => true);
    this.partitions.clear();
    this.logger.warn(
      { groupId: this.options.groupId, memberId: this.memberId, sinceAnsweredMs: this.heartbeats.liveness.sinceAnsweredMs(nowMs), sessionTimeoutMs: this.heartbeats.sessionTimeoutMs, lost: lost.length },
      isRemoved
        ? 'group consumer: the server no longer knows this member (removed while its heartbeats went through, as after a revocation timeout): stopped reading its partitions (they may have moved) and rejoins'
        : this.heartbeats.liveness.isStreamBroken
        ? 'group consumer: its heartbeat stream broke and was not opened again within the server\'s grace: stopped reading its partitions (they may have moved) and rejoins'
        : 'group consumer: no heartbeat answered within the session timeout: stopped reading its partitions (they may have moved) and rejoins',
    );
    if (this.memberId) {
      // A dynamic member the server still knows leaves, so its partitions move now, not at its
      // session timeout; a static one is replaced by its own join (same instance id).
      if (!this.options.instanceId) this.heartbeats.write(this.heartbeatRequest(LEAVE_EPOCH));
      this.abandon(this.memberId);
    }
    this.memberId = '';
    this.memberEpoch = JOIN_EPOCH;
    this.heartbeats.liveness.reset();
    const onLost = this.options.onLost ?? this.options.onRevoked;
    this.reconciling = this.reconciling
      .catch(() => undefined)
      .then(async () => {
        if (lost.length > 0) await onLost?.(lost);
        this.heartbeats.send();
      })
      .catch((error: unknown) => this.fail(error as Error));
  }

  /** Answers for `memberId` that arrive from now on are ignored (it was removed, fenced or lost). */
  private abandon(memberId: string): void {
    if (!memberId || this.abandonedMemberIds.includes(memberId)) return;
    this.abandonedMemberIds.push(memberId);
    if (this.abandonedMemberIds.length > MAX_ABANDONED_MEMBER_IDS) this.abandonedMemberIds.shift();
  }

  private fail(error: Error): void {
    if (this.isClosed) return;
    this.failure = error;
    void this.close();
  }

  /** What commits and offset fetches carry, so the server can fence a zombie. */
  private memberIdentity(): MemberIdentity {
    return { groupId: this.options.groupId, memberId: this.memberId, memberEpoch: this.memberEpoch, offsetsEpoch: this.offsetsEpoch ?? 0 };
  }

  private heartbeatRequest(memberEpoch = this.memberEpoch): GroupHeartbeatRequest {
    const processor = this.readers.processor;
    const isWaitingForRecords = processor ? processor.isIdle : this.buffer.hasWaitingTaker;
    const idleMs = isWaitingForRecords ? 0 : this.clock.nowMs() - this.lastAskedAtMs;
    return heartbeatRequestOf({ ...this.options, memberId: this.memberId, memberEpoch, owned: this.partitions.owned.values(), idleMs });
  }

  private onResponse(response: GroupHeartbeatResponse__Output): void {
    if (this.isClosed) {
      // The answer to a join sent before close(): the leave goes out under the id it gives.
      const isJoinAnswer = !this.memberId && !response.failure && response.memberId !== '' && !this.abandonedMemberIds.includes(response.memberId);
      if (isJoinAnswer) {
        this.memberId = response.memberId;
        this.memberEpoch = response.memberEpoch;
        this.heartbeats.joinSettled();
      }
      return;
    }
    // A late answer to a member id this one gave up (after the server removed it, or it lost its
    // partitions): applying it would bring back what it let go.
    if (response.memberId && this.abandonedMemberIds.includes(response.memberId)) return;
    this.heartbeats.accepted(response);
    if (response.failure) {
      const error = StrataClientError.fromFailure(response.failure);
      if (error instanceof FencedInstanceIdError) {
        // Another process took this instance id (a newer join wins, as in Kafka): both reading the
        // same partitions would process every record twice, and rejoining would fence the other.
        this.isFenced = true;
        this.logger.warn({ groupId: this.options.groupId, memberId: this.memberId, instanceId: this.options.instanceId }, 'group consumer: fenced, a newer member took its instance id: stopped');
        this.fail(error);
      } else if (error.code === 'FENCED_MEMBER_EPOCH' || error.code === 'UNKNOWN_MEMBER_ID') {
        if (!this.heartbeats.liveness.isStreamBroken && this.partitions.owned.size > 0) {
          // Refused on the stream its heartbeats went through all along: the server removed it (a
          // revocation or processing timeout) and its partitions may go to others before the join's
          // answer, which may queue behind a reconciliation still under way: it stops reading now.
          this.abandon(this.memberId);
          this.memberId = '';
          this.memberEpoch = JOIN_EPOCH;
          this.loseAll(this.clock.nowMs(), true);
          return;
        }
        // Forgotten after its stream broke (the coordinator restarted): rejoin reporting what it owns. It keeps
        // what nobody else took, the join's answer says which; commits for the rest are refused.
        this.abandon(this.memberId);
        this.memberId = '';
        this.memberEpoch = JOIN_EPOCH;
        // It goes on with what it owns until the join's answer says what it keeps: should that answer
        // not come within the session timeout of the last one, checkSession lets everything go.
        this.reconciling = this.reconciling.then(() => this.heartbeats.send());
      } else if (!error.retriable) {
        this.fail(error);
      }
      return;
    }
    this.memberId = response.memberId;
    this.memberEpoch = response.memberEpoch;
    const isOffsetsReset = this.offsetsEpoch !== undefined && response.offsetsEpoch !== this.offsetsEpoch;
    this.offsetsEpoch = response.offsetsEpoch;
    this.enqueueReconcile(response.assignment.flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition }))));
    if (isOffsetsReset) {
      const generation = this.generation;
      this.reconciling = this.reconciling.then(() => (generation === this.generation ? this.reconciler.reloadOffsets() : undefined)).catch((error: unknown) => this.fail(error as Error));
    }
  }

  private enqueueReconcile(target: TopicPartition[]): void {
    // An assignment given before the member lost everything is stale: the rejoin brings a new one.
    const generation = this.generation;
    this.reconciling = this.reconciling.then(() => this.reconciler.reconcile(target, generation)).catch((error: unknown) => this.fail(error as Error));
  }
}
