/** Step 2: the produce cases, the two bounds beside them, and the summary against the ceilings. */
import type { StrataClient } from '../../src/client/strata-client.js';
import type { BenchOptions } from './bench-options.js';
import {
  RAW_IN_FLIGHT,
  RAW_RECORDS_PER_BATCH,
  SEND_BATCH_RECORDS,
  SEND_BATCH_WINDOW,
  measureProduce,
  measureProducerWithoutTransport,
  measureRawProduce,
  type ProduceCase,
  type ProduceResult,
  type RawProduceResult,
} from './measure-produce.js';
import { profiled } from './profiled.js';
import { cpuText, fmt, log, pct, table } from './report-format.js';
import type { CeilingSummary } from './transport-ceiling.js';
import { KEY_COUNT, MB, VALUE_BYTES } from './workload.js';

export interface ProduceStepResult {
  produced: ProduceResult[];
  producerWithoutTransport: Array<{ api: ProduceCase['api']; keyed: boolean; window: number; recordsPerSec: number }>;
  rawProduce: RawProduceResult[];
}

/** The (api, window) pairs --api and --window select: send() at each window, sendBatch() at its own. */
function apiWindows(options: BenchOptions): Array<{ api: ProduceCase['api']; window: number }> {
  return [
    ...(options.produceApis.has('send') ? options.produceWindows.map((window) => ({ api: 'send' as const, window })) : []),
    ...(options.produceApis.has('sendBatch') ? [{ api: 'sendBatch' as const, window: SEND_BATCH_WINDOW }] : []),
  ];
}

export async function runProduceStep(client: StrataClient, serverPid: number | undefined, options: BenchOptions): Promise<ProduceStepResult> {
  const { produceMs } = options;
  log(`## 2. Produce (${fmt(produceMs / 1000, 1)} s per case, the time runs until the last send is acknowledged)`);
  const produced: ProduceResult[] = [];
  const cases: ProduceCase[] = apiWindows(options).flatMap(({ api, window }) => [
    { flush: 'interval' as const, keyed: false, window, api },
    { flush: 'interval' as const, keyed: true, window, api },
    { flush: 'always' as const, keyed: false, window, api },
    { flush: 'always' as const, keyed: true, window, api },
  ]);
  await profiled('produce', options.clientCpuProfDir, async () => {
    for (const testCase of cases) {
      const r = await measureProduce(client, testCase, produceMs, serverPid);
      produced.push(r);
      log(`  ${r.api.padEnd(9)} window ${String(r.window).padEnd(6)} flush=${r.flush.padEnd(8)} ${r.keyed ? 'keyed  ' : 'unkeyed'}: ${fmt(r.recordsPerSec)} records/s, ${fmt(r.batchMbPerSec, 1)} MB/s of batches (${fmt(r.valueMbPerSec, 1)} MB/s of values), ${fmt(r.records)} records in ${fmt(r.seconds, 2)} s${r.logRecords !== r.records ? `  ! the log holds ${r.logRecords}` : ''}`);
    }
  });
  log('');
  log('### The producer without transport (fake stream acknowledging on setImmediate; client CPU only)');
  const producerWithoutTransport: ProduceStepResult['producerWithoutTransport'] = [];
  for (const { api, window } of apiWindows(options)) {
    for (const keyed of [false, true]) {
      const r = await measureProducerWithoutTransport(keyed, window, Math.min(2000, produceMs), api);
      producerWithoutTransport.push({ api, keyed, window, ...r });
      log(`  ${api.padEnd(9)} window ${String(window).padEnd(6)} ${keyed ? 'keyed  ' : 'unkeyed'}: ${fmt(r.recordsPerSec)} records/s`);
    }
  }
  log('');
  log(`### The produce path without the Producer class (encodeRecordBatch, ${RAW_RECORDS_PER_BATCH} records a batch, ${RAW_IN_FLIGHT} requests in flight on one Produce stream)`);
  const rawProduce: RawProduceResult[] = [];
  for (const flush of ['interval', 'always'] as const) {
    const r = await measureRawProduce(client, flush, Math.min(3000, produceMs), serverPid);
    rawProduce.push(r);
    log(`  flush=${flush.padEnd(8)}: ${fmt(r.recordsPerSec)} records/s, ${fmt(r.batchMbPerSec, 1)} MB/s of batches`);
  }
  log('');
  return { produced, producerWithoutTransport, rawProduce };
}

export function printProduceSummary({ produced, rawProduce }: ProduceStepResult, ceiling: CeilingSummary): void {
  const { echoMbPerSec, ackMbPerSec, echoCpuMsPerMb } = ceiling;
  log('### Produce summary (ratio: MB/s of batches over the mean Echo ceiling; Ack ceiling beside it)');
  log('CPU ms/MB: CPU of client and server (every thread) per MB of batches. When both runs are CPU-bound on');
  log('the same cores, MB/s over the Echo ceiling cannot pass Echo CPU ms/MB over this (the last column).');
  log(
    table(
      ['call', 'un-awaited records', 'flush', 'keys', 'records/s', 'MB/s (batches)', 'MB/s (values)', '/ Echo ceiling', '/ Ack ceiling', 'target 500k rec/s', 'target 60 % of ceiling', 'CPU ms/MB (client + server)', 'Echo CPU/MB over it'],
      produced.map((r) => [
        r.api === 'send' ? 'send()' : `sendBatch() of ${fmt(SEND_BATCH_RECORDS)}`,
        fmt(r.window),
        r.flush,
        r.keyed ? `${KEY_COUNT / 1000}k keys` : 'none',
        fmt(r.recordsPerSec),
        fmt(r.batchMbPerSec, 1),
        fmt(r.valueMbPerSec, 1),
        pct(r.batchMbPerSec / echoMbPerSec),
        pct(r.batchMbPerSec / ackMbPerSec),
        r.recordsPerSec >= 500_000 ? 'met' : `missed (${pct(r.recordsPerSec / 500_000)} of it)`,
        Number.isNaN(echoMbPerSec) ? 'n/a' : r.batchMbPerSec >= 0.6 * echoMbPerSec ? 'met' : `missed (${pct(r.batchMbPerSec / echoMbPerSec)})`,
        cpuText(r),
        pct(echoCpuMsPerMb / r.cpuMsPerMb),
      ]).concat(
        rawProduce.map((r) => [
          'raw (no Producer)',
          `${RAW_IN_FLIGHT} requests`,
          r.flush,
          'none',
          fmt(r.recordsPerSec),
          fmt(r.batchMbPerSec, 1),
          fmt((r.recordsPerSec * VALUE_BYTES) / MB, 1),
          pct(r.batchMbPerSec / echoMbPerSec),
          pct(r.batchMbPerSec / ackMbPerSec),
          '(no Producer)',
          '(no Producer)',
          cpuText(r),
          pct(echoCpuMsPerMb / r.cpuMsPerMb),
        ]),
      ),
    ),
  );
  log('');
}
