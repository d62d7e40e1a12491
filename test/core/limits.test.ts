import { describe, expect, it } from 'vitest';
import {
  CONNECTION_RESERVED_BYTES,
  DEFAULT_FETCH_MAX_BYTES,
  DEFAULT_MEMBER_MAX_BYTES,
  HALF_CLOSED_CALL_RESERVED_BYTES,
  HEARTBEAT_ANSWERS_MAX_BYTES,
  HEARTBEAT_ANSWERS_RESERVED_BYTES,
  MAX_BATCH_BYTES_LIMIT,
  MAX_FETCH_BYTES,
  MAX_GROUP_COMMIT_BYTES,
  MAX_PRODUCE_REQUEST_BYTES,
  MAX_READ_RESPONSE_BYTES,
  MAX_REQUEST_BYTES,
  MAX_UNFLUSHED_RESPONSES_PER_PARTITION,
  MIN_BUDGET_STREAMS,
  MIN_READ_BYTES,
  MIN_REQUEST_BYTES,
  REQUEST_FIELDS_BYTES,
  RESPONSE_COPIES,
  WALK_CHUNK_BYTES,
} from '../../src/core/limits.js';
import { BATCH_HEADER_BYTES } from '../../src/format/record-batch-layout.js';
import { DEFAULT_SERVER_CONFIG, largestAcceptedBatchBytes, resolveServerConfig, streamReservedBytes } from '../../src/server/server-config.js';
import { DEFAULT_TOPIC_CONFIG } from '../../src/storage/topic-config.js';

/**
 * How the bounds of core/limits.ts relate to each other and to the defaults that live with the server
 * and the storage (which core cannot import). Relations among core's own constants are also asserted
 * when limits.ts loads; these are the ones that reach across layers, plus the figures comments quote.
 */
describe('limits: batch <= request <= gRPC message', () => {
  it('takes a default topic\'s largest batch in a default server\'s request', () => {
    expect(DEFAULT_SERVER_CONFIG.maxRequestBytes).toBeGreaterThanOrEqual(MIN_REQUEST_BYTES);
    expect(DEFAULT_SERVER_CONFIG.maxRequestBytes).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(DEFAULT_TOPIC_CONFIG.maxBatchBytes).toBeLessThanOrEqual(largestAcceptedBatchBytes(DEFAULT_SERVER_CONFIG));
  });

  it('lets the largest request setting carry the largest batch any topic may accept, and every setting be a valid config', () => {
    expect(largestAcceptedBatchBytes({ maxRequestBytes: MAX_REQUEST_BYTES })).toBe(MAX_BATCH_BYTES_LIMIT);
    for (const maxRequestBytes of [MIN_REQUEST_BYTES, MAX_REQUEST_BYTES]) {
      expect(resolveServerConfig({ maxRequestBytes, memoryBudgetBytes: MIN_BUDGET_STREAMS * streamReservedBytes({ ...DEFAULT_SERVER_CONFIG, maxRequestBytes }) }).maxRequestBytes).toBe(maxRequestBytes);
    }
  });

  it('fits the largest request a Producer builds into the largest the server takes, and its batches into one group commit', () => {
    expect(MAX_PRODUCE_REQUEST_BYTES).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(MAX_REQUEST_BYTES - REQUEST_FIELDS_BYTES).toBeLessThanOrEqual(MAX_GROUP_COMMIT_BYTES);
  });

  it('reads back the largest acknowledged batch in one response', () => {
    expect(MAX_READ_RESPONSE_BYTES).toBeGreaterThanOrEqual(MAX_BATCH_BYTES_LIMIT);
    expect(MAX_READ_RESPONSE_BYTES).toBeGreaterThanOrEqual(MAX_FETCH_BYTES);
  });
});

describe('limits: the default memory budget', () => {
  const budgetBytes = DEFAULT_SERVER_CONFIG.memoryBudgetBytes;

  it('admits the largest response, counted with its copies, from the half that buffers borrow from', () => {
    expect(RESPONSE_COPIES * MAX_READ_RESPONSE_BYTES).toBeLessThanOrEqual(budgetBytes / 2);
    expect(HALF_CLOSED_CALL_RESERVED_BYTES + RESPONSE_COPIES * MAX_FETCH_BYTES).toBeLessThanOrEqual(budgetBytes / 2);
  });

  it('holds the smallest number of calls a client needs at the default reservations', () => {
    expect(MIN_BUDGET_STREAMS * streamReservedBytes(DEFAULT_SERVER_CONFIG)).toBeLessThanOrEqual(budgetBytes);
  });

  it('is not all taken by one address: its connections and its open (half-closed) streams leave room for others', () => {
    const oneAddressBytes = DEFAULT_SERVER_CONFIG.maxConnectionsPerAddress * CONNECTION_RESERVED_BYTES + DEFAULT_SERVER_CONFIG.maxStreamsPerAddress * HALF_CLOSED_CALL_RESERVED_BYTES;
    expect(oneAddressBytes).toBeLessThan(budgetBytes);
  });

  it('keeps a group member of hundreds of partitions at its default maxBytes (a stream each, a response reserved twice)', () => {
    const partitions = 500;
    expect(partitions).toBeLessThanOrEqual(DEFAULT_SERVER_CONFIG.maxStreamsPerAddress);
    expect(partitions * (HALF_CLOSED_CALL_RESERVED_BYTES + RESPONSE_COPIES * DEFAULT_MEMBER_MAX_BYTES)).toBeLessThanOrEqual(budgetBytes);
  });

  it('gives a subscription of 8 partitions at the default max_bytes room for its unflushed responses of each (server-config.ts)', () => {
    expect(DEFAULT_SERVER_CONFIG.subscriptionBufferBytes).toBeGreaterThanOrEqual(8 * MAX_UNFLUSHED_RESPONSES_PER_PARTITION * DEFAULT_FETCH_MAX_BYTES);
  });

  it("keeps a heartbeat stream's reservation within its share", () => {
    expect(HEARTBEAT_ANSWERS_RESERVED_BYTES).toBeLessThanOrEqual(HEARTBEAT_ANSWERS_MAX_BYTES);
  });
});

describe('limits: reads', () => {
  it("has a group member's default read size be one a subscription may ask for, and large enough for gRPC's per-message cost", () => {
    expect(DEFAULT_MEMBER_MAX_BYTES).toBeLessThanOrEqual(MAX_FETCH_BYTES);
    // shared/PERFORMANCE.md: a gRPC message should carry 64 KiB or more at full speed.
    expect(DEFAULT_MEMBER_MAX_BYTES).toBeGreaterThanOrEqual(64 * 1024);
  });

  it('reads past the index entry at least one default index interval, and walks chunks that hold a batch header', () => {
    expect(MIN_READ_BYTES).toBeGreaterThanOrEqual(DEFAULT_TOPIC_CONFIG.indexIntervalBytes);
    expect(WALK_CHUNK_BYTES).toBeGreaterThanOrEqual(BATCH_HEADER_BYTES);
  });
});
