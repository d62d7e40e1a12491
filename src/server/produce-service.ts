import type * as grpc from '@grpc/grpc-js';
import type { Broker } from '../broker/broker.js';
import { MAX_IN_FLIGHT_BYTES_PER_STREAM, MAX_IN_FLIGHT_REQUESTS_PER_STREAM } from '../core/limits.js';
import { ShuttingDownError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { AckLevel__Output } from '../generated/strata/v1/AckLevel.js';
import type { ProduceRequest__Output } from '../generated/strata/v1/ProduceRequest.js';
import type { ProduceResponse } from '../generated/strata/v1/ProduceResponse.js';
import type { ProduceServiceHandlers } from '../generated/strata/v1/ProduceService.js';
import type { AckLevel } from '../storage/partition-log.js';
import { assertDecoded } from './safe-deserialize.js';
import { callIdOf } from './call-log.js';
import { refuseInternalTopic } from './internal-topics.js';
import { toFailure, toServiceError } from './status.js';
import type { StreamRegistry } from './stream-registry.js';

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
 */
export function createProduceService(broker: Broker, streams: StreamRegistry, logger: Logger): ProduceServiceHandlers {
  return {
    Produce(call: ProduceCall) {
      let inFlightCount = 0;
      let inFlightBytes = 0;
      let isWriteBlocked = false;
      let hasClientEnded = false;
      let isFinished = false;
      let isDraining = false;
      let resolveDrained: (() => void) | undefined;

      const finish = (error?: unknown) => {
        if (isFinished) return;
        isFinished = true;
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
        updateFlow();
        return drained;
      });
      const updateFlow = () => {
        if (isFinished) return;
        if (inFlightCount === 0 && isDraining) return finish(new ShuttingDownError('the server is shutting down'));
        if (inFlightCount === 0 && hasClientEnded) return finish();
        const shouldPause =
          isDraining || isWriteBlocked || inFlightCount >= MAX_IN_FLIGHT_REQUESTS_PER_STREAM || inFlightBytes >= MAX_IN_FLIGHT_BYTES_PER_STREAM;
        if (shouldPause && !call.isPaused()) call.pause();
        else if (!shouldPause && call.isPaused()) call.resume();
      };
      const respond = (response: ProduceResponse, sizeBytes: number) => {
        inFlightCount--;
        inFlightBytes -= sizeBytes;
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
        respond({ requestId: request.requestId, partition: request.partition, baseOffset: -1, lastOffset: -1, failure: toFailure(error) }, sizeBytes);
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
        // Requests already buffered when the shutdown began are refused, never dropped unanswered.
        if (isDraining) return fail(request, new ShuttingDownError('the server is shutting down'), sizeBytes);
        try {
          refuseInternalTopic(request.topic, 'produce to');
        } catch (error) {
          return fail(request, error, sizeBytes);
        }
        updateFlow();
        broker.produce(request.topic, request.partition, request.records, ACK_LEVELS[request.ackLevel]).then(
          (result) =>
            respond(
              {
                requestId: request.requestId,
                partition: request.partition,
                baseOffset: result.baseOffset,
                lastOffset: result.lastOffset,
                durability: request.ackLevel === 'ACK_LEVEL_NONE' ? 'ACK_LEVEL_NONE' : result.durability === 'durable' ? 'ACK_LEVEL_DURABLE' : 'ACK_LEVEL_WRITTEN',
                duplicate: result.isDuplicate,
              },
              sizeBytes,
            ),
          (error: unknown) => fail(request, error, sizeBytes),
        );
      });
      call.on('end', () => {
        hasClientEnded = true;
        updateFlow();
      });
      const onGone = () => {
        isFinished = true;
        unregister();
        resolveDrained?.();
      };
      call.on('cancelled', onGone);
      call.on('error', onGone);
    },
  };
}
