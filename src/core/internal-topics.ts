import { InternalTopicError } from './errors.js';

/** The internal topic that holds committed offsets (groups/offset-store.ts): the log is the source of truth. */
export const OFFSETS_TOPIC = '__consumer_offsets';

/**
 * Topics the server keeps for itself: clients may read them, never write, delete or repartition them
 * (as Kafka's internal topics). A client's record in `__consumer_offsets` would be replayed as a
 * commit at startup, and a new partition count would move every group's offsets.
 */
export function isInternalTopic(topic: string): boolean {
  return topic === OFFSETS_TOPIC;
}

/** InternalTopicError (INTERNAL_TOPIC) when a client asks to change an internal topic. */
export function refuseInternalTopic(topic: string, action: 'produce to' | 'delete' | 'add partitions to'): void {
  if (isInternalTopic(topic)) throw new InternalTopicError(`${topic} is the server's internal topic of committed offsets: clients may not ${action} it`);
}
