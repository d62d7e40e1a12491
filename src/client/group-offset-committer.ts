import { setRepeating, type TimerHandle } from '../core/clock.js';
import { StrataError } from '../core/errors.js';
import { call } from './admin.js';
import { StrataClientError } from './client-error.js';
import type { ClientChannel } from './client-channel.js';
import type { CommitTrigger, GroupConsumerLogger, GroupConsumerOptions, TopicPartition, TopicPartitionOffset } from './group-consumer-options.js';
import { partitionKey, type MemberPartitions } from './member-partitions.js';

/** What commits and offset fetches carry, so the server can fence a zombie. */
export interface MemberIdentity {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  offsetsEpoch: number;
}

export interface GroupOffsetCommitterOptions {
  client: ClientChannel;
  consumerOptions: GroupConsumerOptions;
  logger: GroupConsumerLogger;
  partitions: MemberPartitions;
  /** The member as it stands at the call; an empty member id means it is not in the group now. */
  identity: () => MemberIdentity;
}

/**
 * A group member's side of committed offsets: it commits the processed offsets (on its timer, and
 * when the GroupConsumer asks on revocation, commit() and close()), reports a commit it made by
 * itself that failed, and reads the committed offsets that reading resumes from.
 */
export class GroupOffsetCommitter {
  private timer: TimerHandle | undefined;

  constructor(private readonly options: GroupOffsetCommitterOptions) {}

  /** Commits what is processed every `everyMs`, beside the loop: not the record in hand. */
  startTimer(everyMs: number): void {
    this.timer = setRepeating(this.options.client.clock, () => void this.commitProcessed('interval'), everyMs, { keepsProcessAlive: true });
  }

  stopTimer(): void {
    this.timer?.cancel();
  }

  /**
   * Commits the processed offsets not committed yet. commit() (`explicit`) rejects on failure; a
   * commit the consumer makes by itself reports its failure to onCommitFailed and resolves false.
   */
  async commitProcessed(trigger: CommitTrigger | 'explicit'): Promise<boolean> {
    const { client, partitions } = this.options;
    const topics = new Map<string, Array<{ partition: number; offset: number }>>();
    for (const [k, offset] of partitions.processed) {
      const tp = partitions.owned.get(k);
      if (!tp || partitions.committed.get(k) === offset) continue;
      const list = topics.get(tp.topic) ?? [];
      list.push({ partition: tp.partition, offset });
      topics.set(tp.topic, list);
    }
    const identity = this.options.identity();
    if (topics.size === 0 || !identity.memberId) return true;
    const request = {
      ...identity,
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
    };
    try {
      await call(client.stubs.groups.commitOffsets.bind(client.stubs.groups), request, client.callTimeoutMs);
    } catch (error) {
      if (trigger === 'explicit') throw error;
      this.reportCommitFailure(error, trigger, request.topics.flatMap(({ topic, partitions }) => partitions.map(({ partition, offset }) => ({ topic, partition, offset }))));
      return false;
    }
    for (const { topic, partitions: committed } of request.topics) for (const p of committed) partitions.committed.set(partitionKey(topic, p.partition), p.offset);
    return true;
  }

  /** Reads the group's committed offsets of `tps`: where reading resumes. */
  async loadCommittedOffsets(tps: readonly TopicPartition[]): Promise<void> {
    const { client, partitions } = this.options;
    const committed = await call(
      client.stubs.groups.fetchOffsets.bind(client.stubs.groups),
      { ...this.options.identity(), topics: [...new Set(tps.map((tp) => tp.topic))] },
      client.callTimeoutMs,
    );
    for (const tp of tps) {
      const offset = committed.topics.find((t) => t.topic === tp.topic)?.partitions.find((p) => p.partition === tp.partition)?.offset;
      // Lost (or revoked) while the offsets were on their way: not this member's to track.
      if (offset === undefined || !partitions.owned.has(partitionKey(tp.topic, tp.partition))) continue;
      partitions.processed.set(partitionKey(tp.topic, tp.partition), offset);
      partitions.committed.set(partitionKey(tp.topic, tp.partition), offset);
    }
  }

  /** A commit made by the consumer itself failed: onCommitFailed hears of it, else the logger. */
  private reportCommitFailure(thrown: unknown, trigger: CommitTrigger, offsets: TopicPartitionOffset[]): void {
    const { consumerOptions, logger } = this.options;
    const error = thrown instanceof StrataError ? thrown : StrataClientError.fromServiceError(thrown);
    const fields = { groupId: consumerOptions.groupId, memberId: this.options.identity().memberId, trigger, code: error.code, partitions: offsets.length };
    if (!consumerOptions.onCommitFailed) {
      logger.warn(fields, `group consumer: a ${trigger} commit failed (${error.message}): records processed since the last commit may be read again`);
      return;
    }
    try {
      consumerOptions.onCommitFailed(error, { trigger, offsets });
    } catch (hookError) {
      logger.warn({ ...fields, hookError: String(hookError) }, 'group consumer: onCommitFailed threw');
    }
  }
}
