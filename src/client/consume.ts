import type * as grpc from '@grpc/grpc-js';
import { decodeRecordBatchWith, iterateBatches } from '../format/record-batch-codec.js';
import type { RecordFactory, RecordHeader } from '../format/record.js';
import type { SubscribeRequest } from '../generated/strata/v1/SubscribeRequest.js';
import type { SubscribeResponse__Output } from '../generated/strata/v1/SubscribeResponse.js';
import { startPositionToProto, type OffsetSpec } from './admin.js';
import { StrataClientError } from './client-error.js';
import type { StrataClient } from './strata-client.js';

export interface ConsumeOptions {
  /** Where to start on each partition: 'earliest' replays from the log start. Default 'latest'. */
  from?: OffsetSpec | number | Date;
  /** Default: every partition of the topic. */
  partitions?: number[];
  /** Per-partition start offsets; they win over `from`. */
  startOffsets?: Record<number, number>;
  /** Ends the iteration (without an error) and cancels the stream. */
  signal?: AbortSignal;
  /** Most bytes per server response (at least one batch). Default 1 MiB. */
  maxBytes?: number;
  minBytes?: number;
  maxWaitMs?: number;
  /** Resubscribe from the last position after the connection drops. Default true. */
  shouldReconnect?: boolean;
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

const MAX_RECONNECT_ATTEMPTS = 10;
const MAX_RECONNECT_BACKOFF_MS = 5_000;

/**
 * Records of one topic as an AsyncIterable, pushed by a Subscribe stream. Backpressure is end to end:
 * the iterator pulls from the gRPC stream only as fast as the loop body runs, so a slow consumer
 * lets HTTP/2 flow control stop the server, never a buffer without bound.
 */
export async function* consume(client: StrataClient, topic: string, options: ConsumeOptions): AsyncGenerator<ConsumedRecord> {
  // Records are made as the loop asks for them: a response's records never all live at once.
  for await (const response of subscribeResponses(client, topic, options)) {
    for (const record of recordsOf(topic, response)) {
      if (options.signal?.aborted) return;
      yield record;
    }
  }
}

/**
 * The same records, a server response at a time (up to `maxBytes` of one partition, in offset
 * order): one await per response instead of one per record, which is what a fast loop wants (like
 * kafkajs's eachBatch). The next response is read when the loop asks for it.
 */
export async function* consumeBatches(client: StrataClient, topic: string, options: ConsumeOptions): AsyncGenerator<ConsumedRecord[]> {
  for await (const response of subscribeResponses(client, topic, options)) {
    const records = [...recordsOf(topic, response)];
    if (records.length > 0) yield records;
  }
}

/**
 * The Subscribe responses, resubscribing after a dropped connection from the offset after the last
 * response the caller finished with (it asked for the next one).
 */
async function* subscribeResponses(client: StrataClient, topic: string, options: ConsumeOptions): AsyncGenerator<SubscribeResponse__Output> {
  const nextOffsets = new Map<number, number>(Object.entries(options.startOffsets ?? {}).map(([p, o]) => [Number(p), o]));
  const from = options.from instanceof Date ? { timestampMs: options.from.getTime() } : (options.from ?? 'latest');
  // 'latest' and a timestamp mean "as of now": resolved once, so that a resubscription after a
  // dropped connection starts every partition where this one did, not at a later 'latest'.
  let isStartResolved = from === 'earliest' || typeof from === 'number';
  let failures = 0;
  for (;;) {
    if (options.signal?.aborted) return;
    let call: grpc.ClientReadableStream<SubscribeResponse__Output> | undefined;
    const onAbort = () => call?.cancel();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (!isStartResolved) {
        for (const { partition, offset } of await client.admin.listOffsets(topic, from as OffsetSpec, options.partitions ?? [])) {
          if (!nextOffsets.has(partition)) nextOffsets.set(partition, offset);
        }
        isStartResolved = true;
        if (options.signal?.aborted) return;
      }
      const request: SubscribeRequest = {
        topic,
        partitions: options.partitions ?? [],
        start: startPositionToProto(from),
        startOffsets: Object.fromEntries(nextOffsets),
        maxBytes: options.maxBytes ?? 0,
        minBytes: options.minBytes ?? 0,
        maxWaitMs: options.maxWaitMs ?? 0,
      };
      call = client.stubs.consume.subscribe(request) as grpc.ClientReadableStream<SubscribeResponse__Output>;
      for await (const response of call as AsyncIterable<SubscribeResponse__Output>) {
        // Responses already buffered when the signal fired are not handed out.
        if (options.signal?.aborted) return;
        failures = 0;
        yield response;
        nextOffsets.set(response.partition, response.nextOffset);
      }
      return;
    } catch (error) {
      if (options.signal?.aborted) return;
      const clientError = StrataClientError.fromServiceError(error);
      const isTransient = clientError.grpcStatus === 14; // UNAVAILABLE: connection lost or server restarting
      if (!isTransient || options.shouldReconnect === false || ++failures > MAX_RECONNECT_ATTEMPTS) throw clientError;
      await sleep(Math.min(MAX_RECONNECT_BACKOFF_MS, 100 * 2 ** failures), options.signal);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      call?.cancel();
    }
  }
}

/** Decodes one response, skipping records of its first batch below the offset it was read from. */
export function* recordsOf(topic: string, response: SubscribeResponse__Output): Generator<ConsumedRecord> {
  const data = response.records;
  const { partition, fetchOffset } = response;
  // The consumer's record objects straight from the decoder: one object per record.
  const make: RecordFactory<ConsumedRecord> = (offset, timestampMs, key, value, headers) => ({ topic, partition, offset, timestampMs, key, value, headers });
  for (const { position } of iterateBatches(data)) {
    for (const record of decodeRecordBatchWith(data, position, make).records) {
      if (record.offset < fetchOffset) continue;
      yield record;
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
