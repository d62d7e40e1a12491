import { once, setMaxListeners } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import type { Broker, StartPosition } from '../broker/broker.js';
import { InvalidArgumentError, ShuttingDownError } from '../core/errors.js';
import { DEFAULT_FETCH_MAX_BYTES, MAX_FETCH_BYTES, MAX_FETCH_WAIT_MS, MAX_PARTITIONS, MAX_UNFLUSHED_RESPONSES_PER_PARTITION, RESPONSE_COPIES } from '../core/limits.js';
import type { ConsumeServiceHandlers } from '../generated/strata/v1/ConsumeService.js';
import type { SubscribeRequest__Output } from '../generated/strata/v1/SubscribeRequest.js';
import type { SubscribeResponse } from '../generated/strata/v1/SubscribeResponse.js';
import { wakeOrAbort } from './wake-or-abort.js';
import type { MemoryBudget } from './memory-budget.js';
import { assertDecoded } from './safe-deserialize.js';
import { offsetFromProto, startPositionFromProto } from './start-position.js';
import { unary } from './unary.js';
import { toServiceError } from './status.js';
import type { StreamRegistry } from './stream-registry.js';
import { principalOf } from './auth/auth-gate.js';
import type { RateThrottle } from './rate-throttle.js';
import { delay } from '../core/clock.js';

const DEFAULT_SUBSCRIBE_MAX_WAIT_MS = 100;

/** What reads report (the server's metrics): records from the offset asked for, and bytes sent. */
export interface FetchMetrics {
  fetched(topic: string, records: number, bytes: number): void;
}

function boundedInteger(value: number, fallback: number, min: number, max: number, name: string): number {
  if (value === 0) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw new InvalidArgumentError(`${name} must be in [${min}, ${max}], got ${value}`);
  return value;
}

/**
 * Subscribe and Fetch. A subscription runs one loop per partition: a long-poll read (no polling: it
 * sleeps on the partition's high-watermark listener), then a write that honours flow control: when
 * write() returns false the loop waits for 'drain', and each partition waits while four of its
 * responses are not yet flushed to HTTP/2 (grpc-js alone would queue 16 per stream), so a slow client
 * holds at most four responses (of at most max_bytes) per partition in server memory.
 *
 * Rate quota (consumer_byte_rate): the bytes of batches sent are metered for the call's principal,
 * over all its streams. Past the quota a Fetch answer is held back by the throttle time; a Subscribe
 * push goes out and the stream's next push waits that long (every partition of it). Both report it in
 * `throttle_time_ms`. Nothing is skipped: the next read starts where the last one ended.
 */
export function createConsumeService(broker: Broker, streams: StreamRegistry, subscriptionBufferBytes: number, memory: MemoryBudget, metrics?: FetchMetrics, throttle?: RateThrottle): ConsumeServiceHandlers {
  return {
    Subscribe(call: grpc.ServerWritableStream<SubscribeRequest__Output, SubscribeResponse>) {
      const controller = new AbortController();
      // One waiter per partition may listen on this signal at once.
      setMaxListeners(MAX_PARTITIONS + 10, controller.signal);
      let isFinished = false;
      const finish = (error?: unknown) => {
        if (isFinished) return;
        isFinished = true;
        controller.abort();
        unregister();
        if (error !== undefined) call.emit('error', toServiceError(error));
        else call.end();
      };
      const unregister = streams.register(async () => finish(new ShuttingDownError('the server is shutting down')));
      call.on('cancelled', () => finish());
      call.on('error', () => {
        isFinished = true;
        controller.abort();
        unregister();
      });
      subscribe(broker, call, controller.signal, subscriptionBufferBytes, memory, metrics, throttle).then(
        () => finish(),
        (error: unknown) => finish(controller.signal.aborted ? undefined : error),
      );
    },

    Fetch: unary(async (request, call) => {
      const controller = new AbortController();
      call.on('cancelled', () => controller.abort());
      // A long poll holds a shutdown as a stream does (tryShutdown waits for it): it ends the same way.
      let isShuttingDown = false;
      const unregister = streams.register(async () => {
        isShuttingDown = true;
        controller.abort();
      });
      let releaseMemory: (() => void) | undefined;
      try {
        const maxBytes = boundedInteger(request.maxBytes, DEFAULT_FETCH_MAX_BYTES, 1, MAX_FETCH_BYTES, 'max_bytes');
        // The response it may build, until it is handed to grpc-js.
        releaseMemory = memory.reserve(maxBytes, 'a Fetch response');
        const offset = offsetFromProto(request.offset, 'offset');
        const result = await broker.fetch(request.topic, request.partition, offset, {
          maxBytes,
          minBytes: request.minBytes,
          maxWaitMs: Math.min(request.maxWaitMs, MAX_FETCH_WAIT_MS),
          waitForFirstData: false,
          signal: controller.signal,
        });
        if (isShuttingDown) throw new ShuttingDownError('the server is shutting down');
        if (result.batches.length > 0) metrics?.fetched(request.topic, Math.max(0, result.nextOffset - offset), result.batches.length);
        const throttleTimeMs = result.batches.length > 0 && throttle ? throttle.rates.consumed(principalOf(call), result.batches.length) : 0;
        // Held back (a cancelled call or a shutdown ends the wait: the answer is read already).
        if (throttleTimeMs > 0) await delay(throttle!.clock, throttleTimeMs, { signal: controller.signal });
        return { records: result.batches, nextOffset: result.nextOffset, highWatermark: result.highWatermark, logStartOffset: result.logStartOffset, throttleTimeMs };
      } finally {
        releaseMemory?.();
        unregister();
      }
    }),
  };
}


async function subscribe(broker: Broker, call: grpc.ServerWritableStream<SubscribeRequest__Output, SubscribeResponse>, signal: AbortSignal, bufferBytes: number, memory: MemoryBudget, metrics: FetchMetrics | undefined, throttle: RateThrottle | undefined): Promise<void> {
  assertDecoded(call.request);
  const request = call.request;
  const principal = principalOf(call);
  // The stream's next push waits until then (monotonic ms of the throttle clock): consumer_byte_rate.
  let throttledUntilMs = 0;
  const partitionCount = broker.partitionCount(request.topic);
  const partitions = request.partitions.length > 0 ? [...new Set(request.partitions)] : Array.from({ length: partitionCount }, (_, p) => p);
  if (partitions.length > MAX_PARTITIONS) throw new InvalidArgumentError(`at most ${MAX_PARTITIONS} partitions per subscription`);
  const maxBytes = boundedInteger(request.maxBytes, DEFAULT_FETCH_MAX_BYTES, 1, MAX_FETCH_BYTES, 'max_bytes');
  const maxWaitMs = boundedInteger(request.maxWaitMs, DEFAULT_SUBSCRIBE_MAX_WAIT_MS, 0, MAX_FETCH_WAIT_MS, 'max_wait_ms');
  const defaultStart: StartPosition = startPositionFromProto(request.start, { point: 'latest' });
  // Resolve every start first: a bad partition or offset fails the call before anything is sent.
  const starts = new Map<number, number>();
  for (const partition of partitions) {
    const explicit = request.startOffsets[partition];
    const start = explicit !== undefined ? { offset: offsetFromProto(Number(explicit), `start_offsets[${partition}]`) } : defaultStart;
    const offset = await broker.resolveStart(request.topic, partition, start);
    await broker.checkStartOffset(request.topic, partition, offset);
    starts.set(partition, offset);
  }
  // Across the stream's partitions (server setting subscriptionBufferBytes): without it a client that
  // stops reading held a response of max_bytes per partition, up to four each (64 MiB per partition
  // at 16 MiB). At least two responses, so one partition reads while another's response is on its way.
  // A share of the server's memory budget: one response reserved (the stream always makes progress),
  // the rest borrowed while the budget has room, so many slow subscribers get smaller buffers.
  // Each response is held twice until it is flushed: grpc-js frames a copy of it (held until sent),
  // and the read buffer and protobuf's serialized copy are garbage only a collection frees. Counting
  // a response once let 70 non-reading subscribers take a 64 MiB budget's process 80 MiB past its
  // stated base (test/integration/memory-budget.test.ts).
  const heldBytes = (bytes: number) => RESPONSE_COPIES * bytes;
  const budget = memory.openShare({ reservedBytes: heldBytes(maxBytes), maxBytes: heldBytes(Math.max(bufferBytes, 2 * maxBytes)), what: `a subscription to ${request.topic}` });
  signal.addEventListener('abort', () => budget.close(), { once: true });
  try {
    await Promise.all(
      partitions.map(async (partition) => {
        let offset = starts.get(partition)!;
        // grpc-js queues up to 16 responses before write() says false: count this partition's own
        // unflushed responses instead, so that a slow client holds at most four of them here (two
        // measured 5-10 % slower replay; four was within the noise of none).
        let unflushedCount = 0;
        let onFlushed: (() => void) | undefined;
        while (!signal.aborted) {
          if (throttle && throttledUntilMs > throttle.clock.monotonicMs()) {
            await delay(throttle.clock, throttledUntilMs - throttle.clock.monotonicMs(), { signal });
            continue;
          }
          // Wait for data before taking budget: a caught-up partition must not hold any while it waits.
          await broker.waitForData(request.topic, partition, offset, signal);
          if (!(await budget.acquire(heldBytes(maxBytes), signal))) return;
          let result;
          try {
            result = await broker.fetch(request.topic, partition, offset, { maxBytes, minBytes: request.minBytes, maxWaitMs, waitForFirstData: true, signal });
          } catch (error) {
            budget.release(heldBytes(maxBytes));
            throw error;
          }
          const responseBytes = result.batches.length;
          budget.resize(heldBytes(maxBytes), heldBytes(responseBytes));
          if (signal.aborted) return;
          if (result.batches.length === 0) {
            // Woken without data: the log closed (topic deleted or server stopping) or nothing yet.
            if (broker.isClosed(request.topic, partition)) throw new ShuttingDownError('the partition was closed');
            continue;
          }
          const response: SubscribeResponse = {
            partition,
            fetchOffset: offset,
            records: result.batches,
            nextOffset: result.nextOffset,
            highWatermark: result.highWatermark,
            logStartOffset: result.logStartOffset,
            throttleTimeMs: throttle ? throttle.rates.consumed(principal, responseBytes) : 0,
          };
          if (response.throttleTimeMs! > 0) throttledUntilMs = Math.max(throttledUntilMs, throttle!.clock.monotonicMs() + response.throttleTimeMs!);
          metrics?.fetched(request.topic, result.nextOffset - offset, responseBytes);
          offset = result.nextOffset;
          unflushedCount++;
          const isWritable = call.write(response, () => {
            unflushedCount--;
            budget.release(heldBytes(responseBytes));
            onFlushed?.();
          });
          if (!isWritable) await once(call, 'drain', { signal }).catch(() => undefined);
          while (unflushedCount >= MAX_UNFLUSHED_RESPONSES_PER_PARTITION && !signal.aborted) {
            await wakeOrAbort((wake) => (onFlushed = wake), signal);
            onFlushed = undefined;
          }
        }
      }),
    );
  } finally {
    budget.close();
  }
}
