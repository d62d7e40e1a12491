import { InternalTopicError } from './errors.js';

/** The internal topic that holds committed offsets (groups/offset-store.ts): the log is the source of truth. */
export const OFFSETS_TOPIC = '__consumer_offsets';
/** The internal topic of producer id blocks and named producers' epochs (broker/producer-id-registry.ts). */
export const PRODUCER_IDS_TOPIC = '__producer_ids';

/**
 * Names starting with this are the server's: `__consumer_offsets` and `__producer_ids` now, the internal topics of later
 * features (queues, transactions) next. Reserving the whole prefix keeps a client's topic from ever
 * taking a name the server will want.
 */
export const INTERNAL_TOPIC_PREFIX = '__';

/**
 * Topics the server keeps for itself: clients may read them, never create, write, delete or
 * repartition them (as Kafka's internal topics). A client's record in `__consumer_offsets` would be
 * replayed as a commit at startup, and a new partition count would move every group's offsets.
 */
export function isInternalTopic(topic: string): boolean {
  return topic.startsWith(INTERNAL_TOPIC_PREFIX);
}

/** InternalTopicError (INTERNAL_TOPIC) when a client asks to change an internal topic. */
export function refuseInternalTopic(topic: string, action: 'create' | 'produce to' | 'delete' | 'add partitions to' | 'purge records of' | 'alter the config of'): void {
  if (!isInternalTopic(topic)) return;
  if (topic === OFFSETS_TOPIC) throw new InternalTopicError(`${OFFSETS_TOPIC} is the server's internal topic of committed offsets: clients may not ${action} it`);
  throw new InternalTopicError(`'${topic}' is an internal topic name (names starting with ${INTERNAL_TOPIC_PREFIX} are the server's): clients may not ${action} it`);
}

/** The internal topic of queue groups' state: deliveries, answers, dead letters (queues/queue-state-store.ts). */
export const QUEUE_STATE_TOPIC = '__queue_state';

/** The internal topic of access control rules (acls/acl-store.ts): rebuilt from it at startup. */
export const ACLS_TOPIC = '__acls';
/** The internal topic of the schema registry: subjects, versions, schemas, compatibility (schemas/schema-registry.ts). */
export const SCHEMAS_TOPIC = '__schemas';
/** The internal topic of per-principal quotas (quotas/quota-store.ts): rebuilt from it at startup. */
export const QUOTAS_TOPIC = '__quotas';
