import { InternalTopicError } from '../core/errors.js';
import { PRODUCER_IDS_TOPIC } from '../broker/producer-id-registry.js';
import { OFFSETS_TOPIC } from '../groups/offset-store.js';

/**
 * Topics the server keeps for itself: clients may read them, never write, delete or repartition them
 * (as Kafka's internal topics). A client's record in `__consumer_offsets` would be replayed as a
 * commit at startup, and a new partition count would move every group's offsets.
 */
export function refuseInternalTopic(topic: string, action: 'produce to' | 'delete' | 'add partitions to'): void {
  if (topic === PRODUCER_IDS_TOPIC) throw new InternalTopicError(`${PRODUCER_IDS_TOPIC} is the server's internal topic of producer ids: clients may not ${action} it`);
  if (topic === OFFSETS_TOPIC) throw new InternalTopicError(`${OFFSETS_TOPIC} is the server's internal topic of committed offsets: clients may not ${action} it`);
}
