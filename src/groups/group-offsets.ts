import { InvalidArgumentError } from '../core/errors.js';
import { type GroupCoordinator, validateGroupId } from './group-coordinator.js';
import type { OffsetStore } from './offset-store.js';
import type { TopicsView } from './topics-view.js';

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: number;
}

/** Who asks: a member, at the epochs it has seen (fencing). */
export interface MemberIdentity {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  offsetsEpoch: number;
}

/**
 * A member's side of committed offsets: commit and fetch, with the rules that keep a zombie or a
 * commit older than an operator's reset from landing.
 */
export class GroupOffsets {
  constructor(
    private readonly options: {
      coordinator: GroupCoordinator;
      offsets: OffsetStore;
      topics: TopicsView;
    },
  ) {}

  /**
   * Durably records a member's commits. Refused unless the member is live at an epoch it reached and
   * has seen the latest reset, holds every partition it commits, and every partition exists; a refused
   * commit writes nothing.
   */
  async commit(member: MemberIdentity, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    const { coordinator, topics } = this.options;
    validateGroupId(member.groupId);
    coordinator.validateMember(member.groupId, member.memberId, member.memberEpoch, member.offsetsEpoch);
    coordinator.validateOwnership(member.groupId, member.memberId, offsets);
    for (const o of offsets) {
      const count = topics.partitionCount(o.topic);
      if (count === undefined || o.partition >= count) throw new InvalidArgumentError(`no partition ${o.topic}/${o.partition}`);
    }
    await this.options.offsets.commit(member.groupId, member.memberId, offsets);
  }

  /**
   * A group's committed offsets (of `topics`, or all when empty), partitions ascending. A member
   * (`memberId` not empty) is checked as for a commit: a fenced one must not read offsets to resume from.
   */
  fetch(request: MemberIdentity & { topics: readonly string[] }): Array<{ topic: string; partitions: Array<{ partition: number; offset: number }> }> {
    validateGroupId(request.groupId);
    if (request.memberId) this.options.coordinator.validateMember(request.groupId, request.memberId, request.memberEpoch, request.offsetsEpoch);
    const committed = this.options.offsets.fetch(request.groupId, request.topics);
    return [...committed].map(([topic, partitions]) => ({
      topic,
      partitions: [...partitions].sort(([a], [b]) => a - b).map(([partition, c]) => ({ partition, offset: c.offset })),
    }));
  }
}
