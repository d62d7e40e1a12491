/**
 * Step 2's measurements: produce through the Producer (send() or sendBatch()), and the two bounds
 * beside it: the Producer without a transport, and the server's produce path without the Producer.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type * as grpc from '@grpc/grpc-js';
import { systemClock } from '../../src/core/clock.js';
import { Producer } from '../../src/client/producer.js';
import type { StrataClient } from '../../src/client/strata-client.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../../src/generated/strata/v1/ProduceResponse.js';
import { cpuPerMb, startCpuMeter } from '../process-cpu.js';
import { log } from './report-format.js';
import { KEY_COUNT, KEYS, MB, PARTITIONS, VALUE, VALUE_BYTES, createTopic, topicName } from './workload.js';

export interface ProduceCase {
  flush: 'interval' | 'always';
  keyed: boolean;
  /** Records un-awaited at most. */
  window: number;
  /** `send`: one call (and promise) per record; `sendBatch`: calls of SEND_BATCH_RECORDS records. */
  api: 'send' | 'sendBatch';
}

/** Records per sendBatch() call (kafkajs users pass arrays of messages the same way). */
export const SEND_BATCH_RECORDS = 1_000;
/** Records un-awaited at most with sendBatch: 50 calls. */
export const SEND_BATCH_WINDOW = 50_000;

export interface ProduceResult extends ProduceCase {
  topic: string;
  records: number;
  failed: number;
  seconds: number;
  recordsPerSec: number;
  /** Bytes of the batches as stored (= the `records` field on the wire), per second. */
  batchMbPerSec: number;
  /** Value bytes only (100 per record), per second. */
  valueMbPerSec: number;
  /** Records the log holds (sum of log end offsets) after the run: must equal `records`. */
  logRecords: number;
  /** CPU of the client and the server (every thread) per MB of batches, and each side's part of it. */
  cpuMsPerMb: number;
  clientCpuMsPerMb: number;
  serverCpuMsPerMb: number;
}

export interface RawProduceResult {
  flush: string;
  recordsPerSec: number;
  batchMbPerSec: number;
  seconds: number;
  cpuMsPerMb: number;
  clientCpuMsPerMb: number;
  serverCpuMsPerMb: number;
}


/**
 * Sends for `durationMs` through send() (one record a call; the clock is read every 1024 calls) or
 * sendBatch() (SEND_BATCH_RECORDS a call, a fresh array of fresh record objects each time, as an
 * application would build them), with at most `window` records un-awaited; the time runs until the
 * last record is acknowledged.
 */
export async function sendFor(producer: Producer, topic: string, keyed: boolean, durationMs: number, window: number, api: ProduceCase['api'] = 'send'): Promise<{ records: number; failed: number; seconds: number; firstError: unknown }> {
  const recordsPerCall = api === 'send' ? 1 : SEND_BATCH_RECORDS;
  let outstanding = 0;
  let acknowledged = 0;
  let failed = 0;
  let firstError: unknown;
  let wake: (() => void) | undefined;
  let isDraining = false;
  const settled = () => {
    outstanding -= recordsPerCall;
    if (wake && (isDraining ? outstanding === 0 : outstanding <= window / 2)) {
      const resume = wake;
      wake = undefined;
      resume();
    }
  };
  const onAck = () => {
    acknowledged += recordsPerCall;
    settled();
  };
  const onFail = (error: unknown) => {
    failed += recordsPerCall;
    firstError ??= error;
    settled();
  };
  let next = 0;
  const record = () => {
    const n = next++;
    return { key: keyed ? KEYS[n % KEY_COUNT]! : null, value: VALUE };
  };
  const start = performance.now();
  const deadline = start + durationMs;
  for (let i = 0; ; i++) {
    if ((api === 'sendBatch' || (i & 1023) === 0) && performance.now() >= deadline) break;
    outstanding += recordsPerCall;
    const sent = api === 'send' ? producer.send(topic, record()) : producer.sendBatch(topic, Array.from({ length: recordsPerCall }, record));
    sent.then(onAck, onFail);
    if (outstanding >= window) await new Promise<void>((resolve) => (wake = resolve));
  }
  // Every send acknowledged (the last open batches go out when their linger ends), then flush(), which
  // then has nothing left to do. Waiting for the sends first keeps this loop independent of how
  // flush() treats sends that are still in progress.
  isDraining = true;
  if (outstanding > 0) await new Promise<void>((resolve) => (wake = resolve));
  await producer.flush();
  const seconds = (performance.now() - start) / 1000;
  return { records: acknowledged, failed, seconds, firstError };
}

/** JITs both processes on the produce path, on a topic of its own, before anything is measured. */
export async function warmUpProducePath(client: StrataClient, durationMs: number, window: number): Promise<void> {
  const topic = topicName('warmup');
  await createTopic(client, topic, 'interval');
  const producer = client.producer();
  await sendFor(producer, topic, false, durationMs, window);
  await producer.close();
}

export async function measureProduce(client: StrataClient, testCase: ProduceCase, durationMs: number, serverPid: number | undefined): Promise<ProduceResult> {
  const topic = topicName(`${testCase.flush}-${testCase.keyed ? 'keyed' : 'unkeyed'}-${testCase.api}-w${testCase.window}`);
  await createTopic(client, topic, testCase.flush);
  const producer = client.producer();
  const stopCpu = startCpuMeter(serverPid);
  const sent = await sendFor(producer, topic, testCase.keyed, durationMs, testCase.window, testCase.api);
  const cpu = stopCpu();
  await producer.close();
  if (sent.failed > 0) log(`  ! ${sent.failed} sends failed; the first: ${String(sent.firstError)}`);
  const description = await client.admin.describeTopic(topic);
  const storedBytes = description.partitions.reduce((sum, p) => sum + Number(p.sizeBytes), 0);
  const logRecords = description.partitions.reduce((sum, p) => sum + Number(p.logEndOffset) - Number(p.logStartOffset), 0);
  return {
    ...testCase,
    topic,
    records: sent.records,
    failed: sent.failed,
    seconds: sent.seconds,
    recordsPerSec: sent.records / sent.seconds,
    batchMbPerSec: storedBytes / sent.seconds / MB,
    valueMbPerSec: (sent.records * VALUE_BYTES) / sent.seconds / MB,
    logRecords,
    ...cpuPerMb(cpu, storedBytes / MB),
  };
}

/** Records per batch in the raw produce step: 100-byte values, null keys, just under 16 KiB. */
export const RAW_RECORDS_PER_BATCH = 136;
/** Produce requests in flight on the raw produce stream (the producer allows 8 partitions x 5 requests = 40, each of up to 4 queued batches). */
export const RAW_IN_FLIGHT = 64;

/**
 * The server's produce path without the Producer class: batches made with encodeRecordBatch (one per
 * request, unkeyed, no producer id), written straight on one Produce stream (client.stubs.produce),
 * RAW_IN_FLIGHT requests in flight, partitions round robin, write() backpressure honoured. What
 * Strata's protocol, server and storage reach when the client does almost nothing per record.
 */
export async function measureRawProduce(client: StrataClient, flush: 'interval' | 'always', durationMs: number, serverPid: number | undefined): Promise<RawProduceResult> {
  const topic = topicName(`raw-${flush}`);
  await createTopic(client, topic, flush);
  const records = Array.from({ length: RAW_RECORDS_PER_BATCH }, () => ({ key: null, value: VALUE }));
  const call = client.stubs.produce.produce() as grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output>;
  let inFlight = 0;
  let acknowledged = 0;
  let bytes = 0;
  let requestId = 1;
  let isBlocked = false;
  const start = performance.now();
  const deadline = start + durationMs;
  const stopCpu = startCpuMeter(serverPid);
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (!isBlocked && inFlight < RAW_IN_FLIGHT && performance.now() < deadline) {
        const batch = encodeRecordBatch(records, {});
        bytes += batch.length;
        inFlight++;
        if (!call.write({ requestId: requestId, topic, partition: requestId % PARTITIONS, records: batch })) isBlocked = true;
        requestId++;
      }
      if (inFlight === 0) resolve();
    };
    call.on('drain', () => {
      isBlocked = false;
      pump();
    });
    call.on('data', (response: ProduceResponse__Output) => {
      if (response.failure) return reject(new Error(`raw produce failed: ${response.failure.code} ${response.failure.message}`));
      inFlight--;
      acknowledged++;
      pump();
    });
    call.on('error', reject);
    pump();
  });
  const seconds = (performance.now() - start) / 1000;
  const cpu = stopCpu();
  call.end();
  return { flush, recordsPerSec: (acknowledged * RAW_RECORDS_PER_BATCH) / seconds, batchMbPerSec: bytes / seconds / MB, seconds, ...cpuPerMb(cpu, bytes / MB) };
}

/**
 * The producer with no transport: a fake StrataClient whose Produce stream acknowledges every request
 * on setImmediate (and a topic of PARTITIONS partitions). What remains is the client's own CPU per
 * record: Producer.send, batching, encoding, the acknowledgement promises. An upper bound for step 2.
 */
export async function measureProducerWithoutTransport(keyed: boolean, window: number, durationMs: number, api: ProduceCase['api']): Promise<{ recordsPerSec: number }> {
  const stream = new EventEmitter() as EventEmitter & { write(request: { requestId: number; partition: number }): boolean; end(): void };
  let nextOffset = 0;
  stream.write = (request) => {
    setImmediate(() => {
      stream.emit('data', { requestId: request.requestId, partition: request.partition, baseOffset: nextOffset, lastOffset: nextOffset, durability: 'ACK_LEVEL_WRITTEN', failure: null, duplicate: false });
      nextOffset += 1000;
    });
    return true;
  };
  stream.end = () => undefined;
  const fakeClient = {
    admin: { describeTopic: async () => ({ partitionCount: PARTITIONS }) },
    stubs: {
      produce: {
        produce: () => stream,
        // The producer id is the server's to give, once, before the first batch.
        initProducer: (_request: unknown, _options: unknown, callback: (error: null, response: { producerId: number; producerEpoch: number }) => void) =>
          setImmediate(() => callback(null, { producerId: 1, producerEpoch: 0 })),
      },
    },
    // Always connected: the producer's connection deadline never starts.
    connection: { address: 'no-transport', isReady: true, hasBeenReady: true, unreachableSinceMs: undefined, onChange: () => () => undefined, connect: () => undefined },
    clock: systemClock,
  } as unknown as StrataClient;
  const producer = new Producer(fakeClient, {});
  const sent = await sendFor(producer, 'no-transport', keyed, durationMs, window, api);
  await producer.close();
  return { recordsPerSec: sent.records / sent.seconds };
}
