import type * as grpc from '@grpc/grpc-js';
import type { GroupHeartbeatRequest } from '../generated/strata/v1/GroupHeartbeatRequest.js';
import type { GroupHeartbeatResponse__Output } from '../generated/strata/v1/GroupHeartbeatResponse.js';
import { call } from './admin.js';
import { StrataClientError } from './client-error.js';
import type { ConsumedRecord } from './consume.js';
import { GroupFetchers } from './group-fetchers.js';
import { GroupRecordIterator } from './group-record-iterator.js';
import { RecordBuffer } from './record-buffer.js';
import type { StrataClient } from './strata-client.js';
import type { GroupConsumerOptions, TopicPartition } from './group-consumer-options.js';

export type { GroupConsumerOptions, TopicPartition } from './group-consumer-options.js';

const key = (topic: string, partition: number) => `${partition}\u0000${topic}`;
const JOIN_EPOCH = 0;
const LEAVE_EPOCH = -1;
const STATIC_LEAVE_EPOCH = -2;

/**
 * A member of a consumer group. Iterate it to get records; a record counts as processed once the
 * loop asks for the next one, and processed offsets are committed (at-least-once) on a timer, when
 * partitions are revoked, on commit() and on close(). The record in hand when the loop ends (a
 * `break`, a throw, close()) is not processed: the loop cannot tell a record it finished from one it
 * failed on, so that record is read again by whoever reads the partition next. A loop that stops
 * after finishing a record calls commit() before its `break` (commit() from the loop counts the
 * record in hand). Rebalances reach the loop only as the onAssigned / onRevoked hooks: the
 * iteration itself goes on.
 *
 * The server decides the assignment (see the GroupService); this side heartbeats, follows the
 * assignment (let go of revoked partitions first, then start on new ones from the committed offset)
 * and reads with one Subscribe stream per topic.
 */
export class GroupConsumer implements AsyncIterable<ConsumedRecord> {
  private memberId = '';
  private memberEpoch = JOIN_EPOCH;
  /** The group's offset-reset epoch as last seen; undefined before the first answer. */
  private offsetsEpoch: number | undefined;
  private heartbeatIntervalMs = 3_000;
  private stream: grpc.ClientDuplexStream<GroupHeartbeatRequest, GroupHeartbeatResponse__Output> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  /** Partitions this member reads now, with the next offset to hand out (fetch position). */
  private readonly owned = new Map<string, TopicPartition>();
  /** Next offset after the last processed record, per partition: what a commit writes. */
  private readonly processed = new Map<string, number>();
  private readonly committed = new Map<string, number>();
  /** Next offset after the last record handed to the loop, per partition. */
  private readonly handedNext = new Map<string, number>();
  /** Partitions being revoked: owned until their last commit, but nothing more of them is handed. */
  private readonly revoking = new Set<string>();
  /** Where reading began on a partition with no committed offset ('latest', resolved once). */
  private readonly startedAt = new Map<string, number>();
  private readonly buffer: RecordBuffer<ConsumedRecord>;
  private readonly fetchers: GroupFetchers;
  private reconciling: Promise<void> = Promise.resolve();
  /** Handed to the loop, not yet known processed: a batch, or one record with its partition's key. */
  private lastHanded: ConsumedRecord[] = [];
  private lastHandedOne: ConsumedRecord | undefined;
  private lastHandedKey = '';
  private lastAskedAtMs = Date.now();
  private isClosed = false;
  private closing: Promise<void> | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly client: StrataClient,
    private readonly options: GroupConsumerOptions,
  ) {
    if (options.topics.length === 0) throw new StrataClientError('INVALID_ARGUMENT', 'a group consumer needs at least one topic', 3, false);
    this.buffer = new RecordBuffer(options.bufferRecords ?? 1_000);
    this.fetchers = new GroupFetchers({
      client,
      buffer: this.buffer,
      fromBeginning: options.fromBeginning ?? false,
      owned: () => this.owned.values(),
      resumeOffset: (topic, partition) => {
        const k = key(topic, partition);
        return this.handedNext.get(k) ?? this.processed.get(k) ?? this.startedAt.get(k);
      },
      onStartResolved: (topic, partition, offset) => {
        const k = key(topic, partition);
        if (this.owned.has(k) && !this.startedAt.has(k)) this.startedAt.set(k, offset);
      },
      onOffsetReset: (topic, partition, offset) => {
        const k = key(topic, partition);
        if (!this.owned.has(k)) return;
        // The new position is what a commit writes from now on, as Kafka's reset moves the position;
        // the record in hand from before it must not move the commit back when the loop finishes it.
        this.handedNext.delete(k);
        this.processed.set(k, offset);
        if (this.lastHandedOne && this.lastHandedKey === k) this.lastHandedOne = undefined;
        this.lastHanded = this.lastHanded.filter((r) => key(r.topic, r.partition) !== k);
      },
      onFailure: (error) => {
        if (this.isClosed) return;
        this.failure = error;
        void this.close();
      },
    });
    this.openStream();
    this.sendHeartbeat();
    const commitEveryMs = options.autoCommitIntervalMs ?? 5_000;
    // The timer runs beside the loop: it commits what is processed, not the record in hand.
    this.commitTimer = setInterval(() => void this.commitProcessed().catch(() => undefined), commitEveryMs);
  }

  /** The partitions this member reads now. */
  assignment(): TopicPartition[] {
    return [...this.owned.values()];
  }

  get currentMemberId(): string {
    return this.memberId;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ConsumedRecord> {
    return new GroupRecordIterator({
      beforeNext: () => {
        this.markProcessed();
        this.lastAskedAtMs = Date.now();
      },
      handOne: (record) => {
        // Revoked while it waited in the buffer: it belongs to another member now. After close()
        // nothing more is handed: it would be processed but never committed.
        const k = key(record.topic, record.partition);
        if (!this.isHandable(k)) return false;
        this.lastHandedOne = record;
        this.lastHandedKey = k;
        this.handedNext.set(k, record.offset + 1);
        return true;
      },
      buffer: this.buffer,
      failure: () => this.failure,
      close: () => this.close(),
    });
  }

  /**
   * The same records in batches: each batch holds what has arrived (at least one record, at most
   * `maxRecords`); a batch is processed once the loop asks for the next one. Leaving the loop
   * (break, throw, close()) leaves the whole batch in hand to be read again: commit() first counts it.
   */
  async *batches(maxRecords = 500): AsyncGenerator<ConsumedRecord[]> {
    try {
      for (;;) {
        this.markProcessed();
        this.lastAskedAtMs = Date.now();
        const first = await this.buffer.take();
        if (first === undefined) {
          if (this.failure) throw this.failure;
          return;
        }
        const batch = [first, ...this.buffer.takeAvailable(maxRecords - 1)].filter((r) => this.isHandable(key(r.topic, r.partition)));
        if (batch.length === 0) continue;
        this.hand(batch);
        yield batch;
      }
    } finally {
      await this.close();
    }
  }

  /** Whether a buffered record of partition `k` may still go to the loop. */
  private isHandable(k: string): boolean {
    return !this.isClosed && this.owned.has(k) && !this.revoking.has(k);
  }

  private hand(records: ConsumedRecord[]): void {
    this.lastHanded = records;
    for (const record of records) this.handedNext.set(key(record.topic, record.partition), record.offset + 1);
  }

  /**
   * Commits the offsets of every processed record (the next offset to read, per partition). The
   * record (or batch) in hand counts as processed: call it from the loop once that record is done,
   * not from elsewhere (a signal handler, onRevoked) while the loop may still be working on it.
   */
  async commit(): Promise<void> {
    this.markProcessed();
    await this.commitProcessed();
  }

  private async commitProcessed(): Promise<void> {
    const topics = new Map<string, Array<{ partition: number; offset: number }>>();
    for (const [k, offset] of this.processed) {
      const tp = this.owned.get(k);
      if (!tp || this.committed.get(k) === offset) continue;
      const list = topics.get(tp.topic) ?? [];
      list.push({ partition: tp.partition, offset });
      topics.set(tp.topic, list);
    }
    if (topics.size === 0 || !this.memberId) return;
    const request = {
      ...this.memberIdentity(),
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
    };
    await call(this.client.stubs.groups.commitOffsets.bind(this.client.stubs.groups), request, this.client.callTimeoutMs);
    for (const { topic, partitions } of request.topics) for (const p of partitions) this.committed.set(key(topic, p.partition), p.offset);
  }

  /**
   * Commits what was processed (not the record in hand: see the class), leaves the group (its
   * partitions move at once), and ends the iteration.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.isClosed = true;
      clearInterval(this.commitTimer);
      clearTimeout(this.heartbeatTimer);
      await this.reconciling.catch(() => undefined);
      this.fetchers.stop(() => true);
      // Records still buffered are not handed any more (their partitions are left): whoever reads
      // those partitions next gets them from the committed offsets.
      this.buffer.drop(() => true);
      await this.commitProcessed().catch(() => undefined);
      if (this.memberId && this.stream) {
        // A static member steps away (-2): it keeps its partitions until the session timeout, and
        // gets them back if it returns in time; a dynamic one leaves, and its partitions move at once.
        this.stream.write(this.heartbeatRequest(this.options.instanceId ? STATIC_LEAVE_EPOCH : LEAVE_EPOCH));
        this.stream.end();
      }
      this.buffer.close();
    })();
    return this.closing;
  }

  /** Reads the group's committed offsets of `partitions`: where reading resumes. */
  private async loadCommittedOffsets(partitions: readonly TopicPartition[]): Promise<void> {
    const committed = await call(
      this.client.stubs.groups.fetchOffsets.bind(this.client.stubs.groups),
      { ...this.memberIdentity(), topics: [...new Set(partitions.map((tp) => tp.topic))] },
      this.client.callTimeoutMs,
    );
    for (const tp of partitions) {
      const offset = committed.topics.find((t) => t.topic === tp.topic)?.partitions.find((p) => p.partition === tp.partition)?.offset;
      if (offset === undefined) continue;
      this.processed.set(key(tp.topic, tp.partition), offset);
      this.committed.set(key(tp.topic, tp.partition), offset);
    }
  }

  /** What commits and offset fetches carry, so the server can fence a zombie. */
  private memberIdentity() {
    return { groupId: this.options.groupId, memberId: this.memberId, memberEpoch: this.memberEpoch, offsetsEpoch: this.offsetsEpoch ?? 0 };
  }

  private markProcessed(): void {
    const one = this.lastHandedOne;
    if (one) {
      this.lastHandedOne = undefined;
      if (this.owned.has(this.lastHandedKey)) this.processed.set(this.lastHandedKey, one.offset + 1);
    }
    const records = this.lastHanded;
    this.lastHanded = [];
    for (const record of records) {
      const k = key(record.topic, record.partition);
      if (this.owned.has(k)) this.processed.set(k, record.offset + 1);
    }
  }

  private heartbeatRequest(memberEpoch = this.memberEpoch): GroupHeartbeatRequest {
    const owned = new Map<string, number[]>();
    for (const { topic, partition } of this.owned.values()) owned.set(topic, [...(owned.get(topic) ?? []), partition]);
    const isWaitingForRecords = this.buffer.hasWaitingTaker;
    return {
      groupId: this.options.groupId,
      memberId: this.memberId,
      instanceId: this.options.instanceId ?? '',
      memberEpoch,
      topics: this.options.topics,
      owned: [...owned].map(([topic, partitions]) => ({ topic, partitions })),
      idleMs: isWaitingForRecords ? 0 : Math.min(Date.now() - this.lastAskedAtMs, 0xffff_ffff),
    };
  }

  private openStream(): void {
    const stream = this.client.stubs.groups.groupHeartbeat() as grpc.ClientDuplexStream<GroupHeartbeatRequest, GroupHeartbeatResponse__Output>;
    this.stream = stream;
    stream.on('data', (response: GroupHeartbeatResponse__Output) => this.onResponse(response));
    const onBroken = () => {
      if (this.stream !== stream || this.isClosed) return;
      // The member keeps its partitions on the server until the session timeout: reconnect and go on.
      this.stream = undefined;
      setTimeout(() => {
        if (this.isClosed) return;
        this.openStream();
        this.sendHeartbeat();
      }, 500);
    };
    stream.on('error', onBroken);
    stream.on('end', onBroken);
  }

  private sendHeartbeat(): void {
    clearTimeout(this.heartbeatTimer);
    if (this.isClosed) return;
    this.stream?.write(this.heartbeatRequest());
    this.heartbeatTimer = setTimeout(() => this.sendHeartbeat(), this.heartbeatIntervalMs);
  }

  private onResponse(response: GroupHeartbeatResponse__Output): void {
    if (this.isClosed) return;
    if (response.failure) {
      const error = StrataClientError.fromFailure(response.failure);
      if (error.code === 'FENCED_MEMBER_EPOCH' || error.code === 'UNKNOWN_MEMBER_ID') {
        // Forgotten (removed, or the coordinator restarted): rejoin reporting what it owns. It keeps
        // what nobody else took, the join's answer says which; commits for the rest are refused.
        this.memberId = '';
        this.memberEpoch = JOIN_EPOCH;
        this.reconciling = this.reconciling.then(() => this.sendHeartbeat());
      } else if (!error.retriable) {
        this.failure = error;
        void this.close();
      }
      return;
    }
    this.memberId = response.memberId;
    this.memberEpoch = response.memberEpoch;
    if (response.heartbeatIntervalMs > 0) this.heartbeatIntervalMs = response.heartbeatIntervalMs;
    const isOffsetsReset = this.offsetsEpoch !== undefined && response.offsetsEpoch !== this.offsetsEpoch;
    this.offsetsEpoch = response.offsetsEpoch;
    this.enqueueReconcile(response.assignment.flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition }))));
    if (isOffsetsReset) {
      this.reconciling = this.reconciling.then(() => this.reloadOffsets()).catch((error: unknown) => {
        this.failure = error as Error;
        void this.close();
      });
    }
  }

  private enqueueReconcile(target: TopicPartition[]): void {
    this.reconciling = this.reconciling.then(() => this.reconcile(target)).catch((error: unknown) => {
      this.failure = error as Error;
      void this.close();
    });
  }

  /** Follows an assignment: revoked partitions first (stop, commit, hook), then new ones. */
  private async reconcile(target: TopicPartition[]): Promise<void> {
    if (this.isClosed) return;
    const targetKeys = new Set(target.map((tp) => key(tp.topic, tp.partition)));
    const revoked = [...this.owned].filter(([k]) => !targetKeys.has(k)).map(([, tp]) => tp);
    const added = target.filter((tp) => !this.owned.has(key(tp.topic, tp.partition)));
    if (revoked.length === 0 && added.length === 0) return;
    if (revoked.length > 0) {
      const revokedKeys = new Set(revoked.map((tp) => key(tp.topic, tp.partition)));
      // Nothing more of these partitions is handed: a record handed during the commit below would be
      // counted after it and forgotten, and read again by the next owner.
      for (const k of revokedKeys) this.revoking.add(k);
      this.buffer.drop((r) => revokedKeys.has(key(r.topic, r.partition)));
      // Commit what the loop has finished; the record it may still hold is not processed yet (its
      // next owner gets it again: at least once). Finished during that commit: once more.
      if (this.memberId) {
        await this.commitProcessed().catch(() => undefined);
        const movedOn = [...revokedKeys].some((k) => this.processed.has(k) && this.processed.get(k) !== this.committed.get(k));
        if (movedOn) await this.commitProcessed().catch(() => undefined);
      }
      for (const k of revokedKeys) {
        this.revoking.delete(k);
        this.owned.delete(k);
        this.processed.delete(k);
        this.committed.delete(k);
        this.handedNext.delete(k);
        this.startedAt.delete(k);
      }
      this.buffer.drop((r) => revokedKeys.has(key(r.topic, r.partition)));
      // The record (or batch) in hand of a revoked partition is not ours to count any more: were the
      // partition assigned back, its stale offset would move the commit backwards.
      if (this.lastHandedOne && revokedKeys.has(this.lastHandedKey)) this.lastHandedOne = undefined;
      this.lastHanded = this.lastHanded.filter((r) => !revokedKeys.has(key(r.topic, r.partition)));
      await this.options.onRevoked?.(revoked);
      // Tell the coordinator at once, so the partitions can move without waiting for the interval.
      this.sendHeartbeat();
    }
    if (added.length > 0) {
      for (const tp of added) this.owned.set(key(tp.topic, tp.partition), tp);
      await this.loadCommittedOffsets(added);
      await this.options.onAssigned?.(added);
    }
    // Only topics whose partitions changed get a new subscription: the rest go on untouched.
    this.fetchers.start(false);
  }

  /**
   * After an operator reset the group's offsets: forget positions and buffered records (the record in
   * the loop's hands is not committed either), read the committed offsets again, resume from them.
   */
  private async reloadOffsets(): Promise<void> {
    if (this.isClosed) return;
    this.fetchers.stop(() => true);
    this.lastHanded = [];
    this.lastHandedOne = undefined;
    this.buffer.drop(() => true);
    this.processed.clear();
    this.committed.clear();
    this.handedNext.clear();
    this.startedAt.clear();
    if (this.owned.size === 0) return;
    await this.loadCommittedOffsets([...this.owned.values()]);
    this.fetchers.start(true);
  }
}
