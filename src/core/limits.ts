import { assert } from './assert.js';

/**
 * Every bound in one place. Defaults that a topic may override live in storage/topic-config.ts; these
 * are the hard limits that no configuration may exceed.
 */

/** Byte positions inside a segment are stored as uint32 in the offset index. */
export const MAX_SEGMENT_BYTES = 0x7fff_ffff;
/** Offsets relative to a segment's base offset are stored as uint32 in both indexes. */
export const MAX_RELATIVE_OFFSET = 0xffff_ffff;
/** The largest batch any topic may accept (`max.message.bytes` is capped here). */
export const MAX_BATCH_BYTES_LIMIT = 64 * 1024 * 1024;
export const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;
/** Records in one batch: Kafka's record count is an int32; we bound it far lower. */
export const MAX_RECORDS_PER_BATCH = 1_000_000;
export const MIN_PARTITIONS = 1;
export const MAX_PARTITIONS = 10_000;
export const MAX_TOPIC_NAME_LENGTH = 249;
/** Bytes gathered into one writev + fsync by the group commit, so one commit cannot grow unbounded. */
export const MAX_GROUP_COMMIT_BYTES = 16 * 1024 * 1024;
/** Appends waiting behind the writer of one partition before new ones are refused. */
export const MAX_PENDING_APPENDS_PER_PARTITION = 100_000;
/** Bytes waiting behind the writer of one partition before new appends are refused. */
export const MAX_PENDING_APPEND_BYTES_PER_PARTITION = 256 * 1024 * 1024;
/** Offsets are JS numbers: stay inside the range a double represents exactly. */
export const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

assert(MAX_BATCH_BYTES_LIMIT < MAX_SEGMENT_BYTES, 'a batch must fit in a segment');
assert(DEFAULT_MAX_BATCH_BYTES <= MAX_BATCH_BYTES_LIMIT, 'default batch limit within hard limit');
assert(MAX_GROUP_COMMIT_BYTES >= MAX_BATCH_BYTES_LIMIT / 4, 'a group commit holds several batches');
