import type * as grpc from '@grpc/grpc-js';
import type { AckLevel, Broker } from '../broker/broker.js';
import { MAX_IN_FLIGHT_BYTES_PER_STREAM, MAX_IN_FLIGHT_REQUESTS_PER_STREAM } from '../core/limits.js';
import { ShuttingDownError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { TimerHandle } from '../core/clock.js';
import type { AckLevel__Output } from '../generated/strata/v1/AckLevel.js';
import type { ProduceRequest__Output } from '../generated/strata/v1/ProduceRequest.js';
import type { ProduceResponse } from '../generated/strata/v1/ProduceResponse.js';
import type { ProduceServiceHandlers } from '../generated/strata/v1/ProduceService.js';
import { assertDecoded } from './safe-deserialize.js';
import { callIdOf } from './call-log.js';
import { toFailure, toServiceError } from './status.js';
import { unary } from './unary.js';
import type { InitProducerRequest__Output } from '../generated/strata/v1/InitProducerRequest.js';
import type { InitProducerResponse } from '../generated/strata/v1/InitProducerResponse.js';
import type { StreamRegistry } from './stream-registry.js';
import type { MemoryBudget } from './memory-budget.js';
import { recordCountOf } from './record-count.js';
import { principalOf, refusalOf } from './auth/auth-gate.js';
import type { RateThrottle } from './rate-throttle.js';

/** What the Produce stream reports of each request (the server's metrics). */
export interface ProduceMetrics {
  produced(topic: string, records: number, bytes: number, isDuplicate: boolean): void;
  produceFailed(topic: string, code: string): void;
}

const ACK_LEVELS: Record<AckLevel__Output, AckLevel | 'none' | undefined> = {
  ACK_LEVEL_UNSPECIFIED: undefined,
  ACK_LEVEL_NONE: 'none',
  ACK_LEVEL_WRITTEN: 'written',
  ACK_LEVEL_DURABLE: 'durable',
};

type ProduceCall = grpc.ServerDuplexStream<ProduceRequest__Output, ProduceResponse>;

/**
 * The Produce stream. Requests are handed to the broker in arrival order (so one partition's batches
 * keep their order) and answered as each append meets its ack level. Bounded: past
 * MAX_IN_FLIGHT_REQUESTS_PER_STREAM requests or MAX_IN_FLIGHT_BYTES_PER_STREAM bytes in flight, or
 * while the client does not read its responses (write() returned false), the server stops reading
 * the stream, and HTTP/2 flow control pushes back on the client. A bad request fails alone; an
 * undecodable message ends the stream with INVALID_ARGUMENT.
 *
 * Memory: the requests in flight are a share of the server's memory budget. The stream reads the next
 * request only while it holds room for one of the largest size (maxRequestBytes): its reservation
 * always gives one, more are borrowed while the budget has room, so under pressure every producer
 * still appends, one request at a time.
 *
 * Rate quota (producer_byte_rate, principal-quotas.ts): each appended request's bytes are metered for
 * the call's principal; past its quota the answer is held back by the throttle time (and reported in
 * `throttle_time_ms`), answers after it wait behind it (in order), and the stream is not read
 * meanwhile, so the client is pushed back by HTTP/2 flow control even if it ignores the field. The
 * records are appended all the same. At shutdown held answers go at once.
 */
export function createProduceService(broker: Broker, streams: StreamRegistry, logger: Logger, memory: { budget: MemoryBudget; maxRequestBytes: number }, metrics?: ProduceMetrics, throttle?: RateThrottle): ProduceServiceHandlers {
  const slotBytes = memory.maxRequestBytes;
  return {
    InitProducer: unary(async (request: InitProducerRequest__Output): Promise<InitProducerResponse> => {
      const identity = await broker.initProducer({
        ...(request.producerName !== '' ? { name: request.producerName } : {}),
        ...(request.current ? { current: { producerId: request.current.producerId, producerEpoch: request.current.producerEpoch } } : {}),
      });
      return { producerId: identity.producerId, producerEpoch: identity.producerEpoch };
    }),
    Produce(call: ProduceCall) {
      limitReadAhead(call);
      let share;
      try {
        share = memory.budget.openShare({ reservedBytes: slotBytes, maxBytes: MAX_IN_FLIGHT_BYTES_PER_STREAM + slotBytes, what: 'a produce stream' });
      } catch (error) {
        call.emit('error', toServiceError(error));
        return;
      }
      const requestMemory = share;
      // Room for the next request, held while the stream reads; the request that arrives takes it over.
      let hasSlot = requestMemory.tryAcquire(slotBytes);
      let isWaitingForSlot = false;
      const slotWait = new AbortController();
      let inFlightCount = 0;
      let inFlightBytes = 0;
      let isWriteBlocked = false;
      let hasClientEnded = false;
      let isFinished = false;
      let isDraining = false;
      let resolveDrained: (() => void) | undefined;
      const principal = principalOf(call);
      // Answers held back for the rate quota, in order, and the timer that lets them go.
      const held: Array<{ response: ProduceResponse; sizeBytes: number }> = [];
      let throttledUntilMs = 0;
      let throttleTimer: TimerHandle | undefined;

      const finish = (error?: unknown) => {
        if (isFinished) return;
        isFinished = true;
        throttleTimer?.cancel();
        releaseMemory();
        unregister();
        if (error !== undefined) call.emit('error', toServiceError(error));
        else call.end();
        resolveDrained?.();
      };
      // At shutdown: read no more requests, let in-flight appends answer, then end with UNAVAILABLE.
      const unregister = streams.register(() => {
        if (isFinished) return Promise.resolve();
        isDraining = true;
        const drained = new Promise<void>((resolve) => (resolveDrained = resolve));
        releaseHeld();
        updateFlow();
        return drained;
      });
      const updateFlow = () => {
        if (isFinished) return;
        if (inFlightCount === 0 && isDraining) return finish(new ShuttingDownError('the server is shutting down'));
        if (inFlightCount === 0 && hasClientEnded) return finish();
        if (!hasSlot && !isWaitingForSlot) {
          isWaitingForSlot = true;
          void requestMemory.acquire(slotBytes, slotWait.signal).then((isHeld) => {
            isWaitingForSlot = false;
            hasSlot = isHeld;
            if (isHeld) updateFlow();
          });
        }
        const shouldPause =
          isDraining || isWriteBlocked || throttleTimer !== undefined || !hasSlot || inFlightCount >= MAX_IN_FLIGHT_REQUESTS_PER_STREAM || inFlightBytes >= MAX_IN_FLIGHT_BYTES_PER_STREAM;
        if (shouldPause && !call.isPaused()) call.pause();
        else if (!shouldPause && call.isPaused()) call.resume();
      };
      const respond = (response: ProduceResponse, sizeBytes: number, throttleTimeMs = 0) => {
        if (throttleTimeMs > 0 && throttle && !isDraining) {
          throttledUntilMs = Math.max(throttledUntilMs, throttle.clock.monotonicMs() + throttleTimeMs);
          if (throttleTimer === undefined) throttleTimer = throttle.clock.setTimeout(releaseHeld, throttleTimeMs);
        }
        if (throttleTimer !== undefined) {
          held.push({ response, sizeBytes });
          updateFlow();
          return;
        }
        send(response, sizeBytes);
      };
      // Lets the held answers go once the throttle time is over (a later, longer one moves the end on).
      const releaseHeld = () => {
        throttleTimer?.cancel();
        throttleTimer = undefined;
        const remainingMs = throttle && !isDraining ? throttledUntilMs - throttle.clock.monotonicMs() : 0;
        if (remainingMs > 0 && !isFinished) {
          throttleTimer = throttle!.clock.setTimeout(releaseHeld, remainingMs);
          return;
        }
        for (const { response, sizeBytes } of held.splice(0)) send(response, sizeBytes);
        updateFlow();
      };
      const send = (response: ProduceResponse, sizeBytes: number) => {
        inFlightCount--;
        inFlightBytes -= sizeBytes;
        requestMemory.release(sizeBytes);
        if (!isFinished && !call.cancelled && !call.write(response) && !isWriteBlocked) {
          isWriteBlocked = true;
          call.once('drain', () => {
            isWriteBlocked = false;
            updateFlow();
          });
        }
        updateFlow();
      };
      const fail = (request: ProduceRequest__Output, error: unknown, sizeBytes: number) => {
        logger.debug({ err: error, callId: callIdOf(call), requestId: request.requestId, topic: request.topic, partition: request.partition }, 'produce request failed');
        const failure = toFailure(error);
        metrics?.produceFailed(request.topic, failure.code ?? 'INTERNAL');
        respond({ requestId: request.requestId, partition: request.partition, baseOffset: -1, lastOffset: -1, failure }, sizeBytes);
      };

      call.on('data', (request: ProduceRequest__Output) => {
        if (isFinished) return;
        try {
          assertDecoded(request);
        } catch (error) {
          finish(error);
          return;
        }
        const sizeBytes = request.records.length;
        inFlightCount++;
        inFlightBytes += sizeBytes;
        // The request is in memory already: it takes over the slot (or is added if one arrived without).
        if (hasSlot) requestMemory.resize(slotBytes, sizeBytes);
        else requestMemory.add(sizeBytes);
        hasSlot = requestMemory.tryAcquire(slotBytes);
        // Requests already buffered when the shutdown began are refused, never dropped unanswered.
        if (isDraining) return fail(request, new ShuttingDownError('the server is shutting down'), sizeBytes);
        // Denied by the ACLs (auth-gate.ts): this request fails alone, the stream's others go on.
        const refusal = refusalOf(request);
        if (refusal) return fail(request, refusal, sizeBytes);
        updateFlow();
        broker.produce(request.topic, request.partition, request.records, ACK_LEVELS[request.ackLevel]).then(
          (result) => {
            const throttleTimeMs = throttle?.rates.produced(principal, sizeBytes) ?? 0;
            metrics?.produced(request.topic, result.baseOffset >= 0 ? result.lastOffset - result.baseOffset + 1 : recordCountOf(request.records), sizeBytes, result.isDuplicate);
            respond(
              {
                requestId: request.requestId,
                partition: request.partition,
                baseOffset: result.baseOffset,
                lastOffset: result.lastOffset,
                durability: request.ackLevel === 'ACK_LEVEL_NONE' ? 'ACK_LEVEL_NONE' : result.durability === 'durable' ? 'ACK_LEVEL_DURABLE' : 'ACK_LEVEL_WRITTEN',
                duplicate: result.isDuplicate,
                ...(result.duplicateRecords && result.duplicateRecords.length > 0
                  ? { duplicateRecords: result.duplicateRecords.map((d) => ({ index: d.index, originalOffset: d.originalOffset })) }
                  : {}),
                throttleTimeMs,
              },
              sizeBytes,
              throttleTimeMs,
            );
          },
          (error: unknown) => fail(request, error, sizeBytes),
        );
      });
      call.on('end', () => {
        hasClientEnded = true;
        updateFlow();
      });
      const onGone = () => {
        isFinished = true;
        throttleTimer?.cancel();
        releaseMemory();
        unregister();
        resolveDrained?.();
      };
      function releaseMemory() {
        slotWait.abort();
        requestMemory.close();
      }
      call.on('cancelled', onGone);
      call.on('error', onGone);
    },
  };
}

/**
 * A paused grpc-js stream still reads requests until its readable buffer holds its high-water mark:
 * 16 messages in object mode, up to 16 x maxRequestBytes per produce stream that nobody counted.
 * One is what the admission gate reserves for (a message assembled or read ahead). Node 20's
 * Readable keeps the mark in `_readableState.highWaterMark`; if that is gone the default stays
 * (test/server/produce-read-ahead.test.ts pins it).
 */
export function limitReadAhead(call: object): boolean {
  const state = (call as { _readableState?: { highWaterMark?: unknown } })._readableState;
  if (state === undefined || typeof state.highWaterMark !== 'number') return false;
  state.highWaterMark = 1;
  return true;
}
