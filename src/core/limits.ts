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
/**
 * Bytes gathered into one writev + fsync by the group commit, so one commit cannot grow unbounded;
 * one append (a request's batches) of up to this size is taken whole.
 */
export const MAX_GROUP_COMMIT_BYTES = MAX_BATCH_BYTES_LIMIT;
/** Appends waiting behind the writer of one partition before new ones are refused. */
export const MAX_PENDING_APPENDS_PER_PARTITION = 100_000;
/** Bytes waiting behind the writer of one partition before new appends are refused. */
export const MAX_PENDING_APPEND_BYTES_PER_PARTITION = 256 * 1024 * 1024;
/** Offsets are JS numbers: stay inside the range a double represents exactly. */
export const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

assert(MAX_BATCH_BYTES_LIMIT < MAX_SEGMENT_BYTES, 'a batch must fit in a segment');
assert(DEFAULT_MAX_BATCH_BYTES <= MAX_BATCH_BYTES_LIMIT, 'default batch limit within hard limit');
assert(MAX_GROUP_COMMIT_BYTES >= MAX_BATCH_BYTES_LIMIT, 'the largest batch a topic may accept fits in one append');

/** Producers whose sequences one partition remembers (least recently used are forgotten first). */
export const MAX_PRODUCERS_PER_PARTITION = 10_000;
/** The largest produce request a Producer builds (one append must fit in one group commit). */
export const MAX_PRODUCE_REQUEST_BYTES = MAX_GROUP_COMMIT_BYTES;
/**
 * Batches of one producer in one request, at most: the Producer sends up to this many queued batches
 * of a partition together, and the server refuses more (it remembers only PRODUCER_RECENT_BATCHES).
 */
export const MAX_BATCHES_PER_PRODUCE_REQUEST = 4;
/** Produce requests of one partition a Producer keeps in flight, at most (Kafka allows 5). */
export const MAX_PRODUCER_REQUESTS_IN_FLIGHT_PER_PARTITION = 8;
/**
 * Recent batches per producer that a retry is recognised against (Kafka keeps 5): at least every
 * batch a Producer can have in flight on a partition, or a retry could go unrecognised.
 */
export const PRODUCER_RECENT_BATCHES = 32;
assert(
  PRODUCER_RECENT_BATCHES >= MAX_BATCHES_PER_PRODUCE_REQUEST * MAX_PRODUCER_REQUESTS_IN_FLIGHT_PER_PARTITION,
  'the server remembers every batch a producer may have in flight',
);

/** Produce requests one stream may have in flight before the server stops reading it. */
export const MAX_IN_FLIGHT_REQUESTS_PER_STREAM = 256;
/** Bytes of produce requests one stream may have in flight before the server stops reading it. */
export const MAX_IN_FLIGHT_BYTES_PER_STREAM = 64 * 1024 * 1024;
/** The largest response a read may ask for (at least one whole batch is always sent). */
export const MAX_FETCH_BYTES = 16 * 1024 * 1024;
export const DEFAULT_FETCH_MAX_BYTES = 1024 * 1024;
/**
 * The largest read response (Fetch or one Subscribe message): batches up to max_bytes, or a first
 * batch larger than that sent whole, so as large as the largest batch a topic may accept, plus room
 * for the response's other fields. Both ends of a connection must allow messages of this size, or an
 * acknowledged batch larger than the limit could never be read back.
 */
export const MAX_READ_RESPONSE_BYTES = Math.max(MAX_FETCH_BYTES, MAX_BATCH_BYTES_LIMIT) + 64 * 1024;
/** The longest a subscription gathers min_bytes, and the longest a Fetch waits. */
export const MAX_FETCH_WAIT_MS = 60_000;

export const MAX_MEMBERS_PER_GROUP = 1_000;
export const MAX_GROUPS = 10_000;
export const MAX_GROUP_ID_LENGTH = 249;

/**
 * Partitions on one server, every topic counted (the internal __consumer_offsets too). Every segment of
 * a partition keeps its file open (as Kafka's do), so each partition holds at least one descriptor, and
 * a server past its descriptor limit (RLIMIT_NOFILE) fails every open with EMFILE, then cannot restart.
 * With __consumer_offsets present, one topic may have a few partitions fewer than MAX_PARTITIONS.
 */
export const MAX_PARTITIONS_PER_SERVER = 10_000;
assert(MAX_PARTITIONS_PER_SERVER >= MAX_PARTITIONS, 'a server holds at least one topic of the largest size');

/**
 * Topics one group member may subscribe to. A member is kept with its subscription until it leaves,
 * so this bounds what one member holds (at most 1,000 names of up to MAX_TOPIC_NAME_LENGTH: about
 * 250 KB); real consumers subscribe to a handful, and 1,000 leaves room for wide wildcard-style lists.
 */
export const MAX_SUBSCRIBED_TOPICS_PER_MEMBER = 1_000;
/** A static member's instance id: Kafka's rule for group.instance.id, the same as for group ids. */
export const MAX_INSTANCE_ID_LENGTH = 249;
/**
 * A member id a client sends back. The server issues them (UUIDs, 36 characters) and never takes one
 * from a client, so anything longer cannot be a member: it is refused before it is echoed or logged.
 */
export const MAX_MEMBER_ID_LENGTH = 64;
/**
 * Answers a heartbeat stream may hold queued for a member that does not read them before it is ended
 * with SLOW_READER. gRPC server streams count queued messages, not bytes; answers queue here only once
 * the transport's flow-control window (64 KiB at least) is full, and a member that reads has one or
 * two in flight. 100 is five seconds of heartbeats at the per-stream rate limit beyond that.
 */
export const MAX_UNREAD_HEARTBEAT_ANSWERS = 100;

/** Producer ids are handed out in blocks, one durable record per block (as Kafka's controller does). */
export const PRODUCER_ID_BLOCK_SIZE = 1_000;
/** Producer names (InitProducer's producer_name) the server keeps; past it, new names are refused. */
export const MAX_NAMED_PRODUCERS = 100_000;
export const MAX_PRODUCER_NAME_LENGTH = 249;
/** Producer epochs are int16 in the batch format; InitProducer gives a fresh id past the last. */
export const MAX_PRODUCER_EPOCH = 0x7fff;
