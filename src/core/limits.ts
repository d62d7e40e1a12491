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

// --- The server's memory budget: what a connection and a call reserve (server/admission-gate.ts) ---

/**
 * What a connection costs beyond its calls' reservations. Measured: a `strata serve` process's RSS
 * grew by 20-26 KiB per idle connection (50-60 StrataClients that each made one call, 3 runs): the
 * nghttp2 session, its socket and grpc-js's per-session state. 128 KiB leaves room for HPACK tables
 * (4 KiB each way by default) and frames in transit to and from the socket.
 */
export const CONNECTION_RESERVED_BYTES = 128 * 1024;
/**
 * What a call keeps reserved once its client half-closed (a unary or server-streaming call right after
 * its request; a stream at its end): the client can send nothing more, so its stream window and the
 * request being assembled are free; what remains is the decoded request its handler keeps (a
 * Subscribe's partition list and start offsets: 10,000 entries at most) and the call's own state.
 * Without this, every Subscribe stream of a group member (one per partition) would hold a full
 * request's reservation for its whole life.
 */
export const HALF_CLOSED_CALL_RESERVED_BYTES = 64 * 1024;
/**
 * A budget must admit at least this many calls at once, or no client could work (a group member
 * needs a heartbeat stream and a subscription). Raising maxRequestBytes raises every call's
 * reservation: raise memoryBudgetBytes with it (server/server-config.ts).
 */
export const MIN_BUDGET_STREAMS = 4;
assert(MIN_BUDGET_STREAMS >= 2, 'a budget admits a group member: its heartbeat stream and one subscription');

// --- Produce requests (server/server-config.ts maxRequestBytes) ---

/** Room in a produce request for its fields other than the batches (request id, topic name, ...). */
export const REQUEST_FIELDS_BYTES = 64 * 1024;
/** The smallest maxRequestBytes: a batch of a default topic (max.message.bytes) must fit a request. */
export const MIN_REQUEST_BYTES = DEFAULT_MAX_BATCH_BYTES + REQUEST_FIELDS_BYTES;
/** The largest maxRequestBytes: the largest batch any topic may accept, in one request. */
export const MAX_REQUEST_BYTES = MAX_BATCH_BYTES_LIMIT + REQUEST_FIELDS_BYTES;
assert(MIN_REQUEST_BYTES <= MAX_REQUEST_BYTES, 'the default request size is a valid setting');
assert(MAX_PRODUCE_REQUEST_BYTES <= MAX_REQUEST_BYTES, "the largest request a Producer builds fits the largest the server can be set to take");
assert(MAX_REQUEST_BYTES - REQUEST_FIELDS_BYTES <= MAX_GROUP_COMMIT_BYTES, "the batches of the largest request are one append, taken whole by one group commit");

// --- Subscriptions (server/consume-service.ts) ---

/**
 * How many times a subscription counts each response it holds against the memory budget: grpc-js's
 * framed copy until it is sent, and the copies left to the garbage collector.
 */
export const RESPONSE_COPIES = 2;
/**
 * Responses of one partition written to a Subscribe stream and not yet flushed to HTTP/2 (grpc-js
 * alone would queue 16 per stream): a slow reader holds at most this many per partition in the server.
 */
export const MAX_UNFLUSHED_RESPONSES_PER_PARTITION = 4;
assert(MAX_UNFLUSHED_RESPONSES_PER_PARTITION >= 1, 'a partition of a subscription can send a response');

// --- Queue sessions (server/queue-service.ts) ---

/**
 * Messages a queue session has written and HTTP/2 has not yet sent (deliveries, answer results) count
 * against the memory budget: each stream reserves this much and borrows beyond it while the budget
 * has room, up to QUEUE_SESSION_BUFFER_MAX_BYTES. Past what its share grants, or while write() says
 * the stream is full, the member gets no more deliveries (its records stay acquired, their locks run).
 */
export const QUEUE_SESSION_BUFFER_RESERVED_BYTES = 256 * 1024;
export const QUEUE_SESSION_BUFFER_MAX_BYTES = 8 * 1024 * 1024;
assert(QUEUE_SESSION_BUFFER_RESERVED_BYTES <= QUEUE_SESSION_BUFFER_MAX_BYTES, "a queue session's reservation is within its share");
/**
 * Bytes of deliveries (their batches) a queue member may hold unanswered before it gets no more, on
 * top of its in-flight limit of records. A member whose grpc-js client pauses its stream still takes
 * what arrives into its own process (its HTTP/2 layer keeps acknowledging the data), so the server's
 * writes complete and only this stops its deliveries (measured: all 160 of 160 x 256 KiB records
 * acquired and sent without it); a member cannot answer what it has not read. A peer that reads
 * nothing at all (a stopped process) is held back sooner, by the session's memory share.
 */
export const MAX_QUEUE_UNANSWERED_BYTES_PER_MEMBER = 8 * 1024 * 1024;
/**
 * Answer or extension requests of one queue session being handled at once; past it the server stops
 * reading the stream (HTTP/2 flow control then holds the member's writes), so a member that sends
 * without waiting holds at most this many decoded requests in the server.
 */
export const MAX_QUEUE_REQUESTS_IN_PROGRESS_PER_STREAM = 4;

// --- Consumer groups ---

/** Heartbeats one stream may send per second; more are answered with a failure, not processed. */
export const MAX_HEARTBEATS_PER_SECOND = 20;
/**
 * Heartbeat answers queued unread count against the memory budget: each stream reserves this much
 * (a member that reads has one or two answers on the way) and borrows beyond it while the budget has
 * room, up to MAX_UNREAD_HEARTBEAT_ANSWERS answers or HEARTBEAT_ANSWERS_MAX_BYTES.
 */
export const HEARTBEAT_ANSWERS_RESERVED_BYTES = 64 * 1024;
export const HEARTBEAT_ANSWERS_MAX_BYTES = 4 * 1024 * 1024;
assert(HEARTBEAT_ANSWERS_RESERVED_BYTES <= HEARTBEAT_ANSWERS_MAX_BYTES, "a heartbeat stream's reservation is within its share");
/** Joins remembered per group (for churn and rejoins): enough to see a crash loop, bounded whatever a client does. */
export const MAX_REMEMBERED_JOINS = 1_024;
/** Fenced member ids remembered per group, so their heartbeats are told FENCED_INSTANCE_ID. */
export const MAX_REMEMBERED_FENCES = 256;
/** Characters of a refused value quoted in an error message: the message must stay small too. */
export const QUOTED_CHARACTERS = 64;
/** One read of __consumer_offsets or __producer_ids while their state is rebuilt at startup. */
export const REPLAY_READ_BYTES = 4 * 1024 * 1024;

// --- Startup reads of the logs ---

/** One read of the log tail at startup: large enough for few reads, small enough to stay bounded. */
export const RESTORE_READ_BYTES = 1024 * 1024;
/** Partitions whose tails are read at once at startup: at most RESTORE_CONCURRENCY x RESTORE_READ_BYTES are held. */
export const RESTORE_CONCURRENCY = 4;
/** What the startup walk of a segment's batch headers reads at once (storage/batch-walker.ts). */
export const WALK_CHUNK_BYTES = 1024 * 1024;
/** Added to a read, so that skipping from an index entry to the offset usually takes the same read. */
export const MIN_READ_BYTES = 64 * 1024;

// --- The client (it imports core, so its bounds live here too) ---

/**
 * A group member's default `maxBytes`: each owned partition is read on a stream of its own, and the
 * server reserves a response of this size (twice: its copies) per stream from its memory budget;
 * 256 KiB keeps a member of hundreds of partitions within the default budget, and is large enough
 * that the per-message cost of gRPC stays small beside the bytes (shared/PERFORMANCE.md: 64 KiB and up).
 */
export const DEFAULT_MEMBER_MAX_BYTES = 256 * 1024;
assert(DEFAULT_MEMBER_MAX_BYTES <= MAX_FETCH_BYTES, "a member's default read size is one a subscription may ask for");
/** Records of one partition handed out in a row while other partitions have records waiting (a group member and consume() alike). */
export const FAIR_SLICE_RECORDS = 64;
/** Member ids a group member gave up (removed, fenced, lost) whose late answers it ignores; the newest are kept. */
export const MAX_ABANDONED_MEMBER_IDS = 8;
/** Heartbeats sent and not yet answered that a member remembers; past it, the oldest ones are kept (the safe side). */
export const MAX_UNANSWERED_HEARTBEATS = 64;
/**
 * Resets of one subscription in a row, with no record read between them, before its
 * OFFSET_OUT_OF_RANGE is the member's failure (retention racing the reset).
 */
export const MAX_OFFSET_RESETS = 3;
/** The most memory a Producer keeps in buffers of settled batches for reuse. */
export const FREE_BATCH_BUFFERS_BYTES = 4 * 1024 * 1024;
/** Free produce request frames kept for reuse, in bytes, at most (for the process, shared by its clients). */
export const MAX_FREE_FRAME_BYTES = 4 * 1024 * 1024;
/** Records `strata produce` has read from stdin and not yet seen acknowledged, at most. */
export const MAX_CLI_UNACKNOWLEDGED_RECORDS = 10_000;
/** Producer ids are handed out in blocks, one durable record per block (as Kafka's controller does). */
export const PRODUCER_ID_BLOCK_SIZE = 1_000;
/** Producer names (InitProducer's producer_name) the server keeps; past it, new names are refused. */
export const MAX_NAMED_PRODUCERS = 100_000;
/** Unnamed producer ids whose latest epoch the server remembers (in memory, least recently used forgotten). */
export const MAX_REMEMBERED_UNNAMED_EPOCHS = 100_000;
export const MAX_PRODUCER_NAME_LENGTH = 249;
/** Producer epochs are int16 in the batch format; InitProducer gives a fresh id past the last. */
export const MAX_PRODUCER_EPOCH = 0x7fff;
/** A queue member's in-flight limit (unanswered records it holds) is 1..this; 0 in a join means QUEUE_DEFAULT_IN_FLIGHT. */
export const MAX_QUEUE_IN_FLIGHT_PER_MEMBER = 10_000;
export const QUEUE_DEFAULT_IN_FLIGHT = 100;
/** Answers (or lock extensions) in one request of a queue session. */
export const MAX_QUEUE_ANSWERS_PER_REQUEST = 1_000;
/**
 * Records a queue group tracks per partition above its start offset (Kafka's share-partition record
 * lock limit): a window full of unanswered records stops fetching from that partition, not others.
 */
export const MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION = 2_000;
export const MAX_QUEUE_MEMBERS_PER_GROUP = 1_000;
export const MAX_QUEUE_GROUPS = 10_000;
/** A release's own delay, and a lock's duration or extension, at most (a day). */
export const MAX_QUEUE_DELAY_MS = 24 * 60 * 60 * 1000;
/** A reject's or release's reason text is cut to this many bytes (it goes into a dead-letter header). */
export const MAX_QUEUE_REASON_BYTES = 1_024;
/** A group consumer's failure policy (process()): handler calls for one record before it is dead-lettered, at most. */
export const MAX_HANDLER_ATTEMPTS = 100;
/**
 * Stored batches a queue group's partition window keeps in memory while records of them are tracked,
 * so that a delivery sends bytes already held instead of reading the log again: at most this many
 * bytes per partition and per server (past either, a batch is not held and its deliveries read the log).
 */
export const QUEUE_HELD_BATCH_BYTES_PER_PARTITION = 4 * 1024 * 1024;
export const QUEUE_HELD_BATCH_BYTES_PER_SERVER = 256 * 1024 * 1024;

// --- Duplicate detection by message id (topic key dedupe.window.ms) ---

/** The longest `dedupe.window.ms` a topic may set: 7 days (as long as the default retention). */
export const MAX_DEDUPE_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * Message ids one partition remembers, at most, whatever its window: past it the oldest are evicted
 * (counted and logged). Each costs about 70 bytes with 36-character ids (measured: bench/RESULTS.md,
 * "Message-id dedupe"), so a full partition holds roughly 70 MB.
 */
export const MAX_DEDUPE_IDS_PER_PARTITION = 1_000_000;
/** A message id header's value: 1 to this many bytes of UTF-8. */
export const MAX_MESSAGE_ID_BYTES = 200;
/** How often a partition logs that its id index evicted ids before their window ended. */
export const DEDUPE_EVICTION_LOG_INTERVAL_MS = 60_000;

/**
 * Failed calls the caller caused (a missing topic, a bad argument) are logged at info with their call
 * id, at most this many lines a second per service; past it they go to debug and the next info line
 * says how many it left out, so a client failing in a loop cannot flood the log.
 */
export const MAX_FAILED_CALL_LOG_LINES_PER_SECOND = 100;

// h-schema (issue 19, the schema registry)
/** A schema's text (UTF-8) at most; Confluent has no fixed limit, its REST body is bounded by the HTTP port's 1 MiB. */
export const MAX_SCHEMA_BYTES = 256 * 1024;
export const MAX_SCHEMA_SUBJECTS = 10_000;
/** Versions (live and soft-deleted) one subject keeps at most. */
export const MAX_SCHEMA_VERSIONS_PER_SUBJECT = 1_000;
export const MAX_SCHEMA_SUBJECT_LENGTH = 255;
/** Text of all distinct schemas the registry holds (in memory, and replayed at startup), at most. */
export const MAX_SCHEMA_TOTAL_BYTES = 256 * 1024 * 1024;
/** References one schema names, and the depth of references of references, at most. */
export const MAX_SCHEMA_REFERENCES = 100;
export const MAX_SCHEMA_REFERENCE_DEPTH = 16;

// h-validate (issue 19, schema validation on the produce path)
/** Compiled payload decoders (schema.validation=full) the server keeps, least recently used dropped first. */
export const MAX_SCHEMA_DECODERS = 1_000;
/** Topics whose subjects' valid schema ids the server keeps at once (forgotten whole past it, rebuilt on use). */
export const MAX_SCHEMA_VALIDATED_TOPICS = 10_000;
