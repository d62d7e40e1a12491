/**
 * Step 3: replay each produced topic from offset 0, checking that every offset of every partition
 * arrives once, in order.
 */
import { performance } from 'node:perf_hooks';
import type { ConsumedRecord } from '../../src/client/consume.js';
import { StrataClient } from '../../src/client/strata-client.js';
import type { ProduceResult } from './measure-produce.js';
import { profiled } from './profiled.js';
import { fmt, log, pct, table } from './report-format.js';
import { MB, PARTITIONS, VALUE_BYTES } from './workload.js';

export interface ReplayResult {
  topic: string;
  api: 'consume' | 'consumeBatches';
  records: number;
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
  /** Records out of order, repeated or missing per partition: must be 0. */
  anomalies: number;
}

async function measureReplay(client: StrataClient, topic: string, expected: number, storedBytes: number, api: ReplayResult['api']): Promise<ReplayResult> {
  const controller = new AbortController();
  const nextOffset = new Array<number>(PARTITIONS).fill(0);
  let anomalies = 0;
  let count = 0;
  let lastProgress = count;
  const watchdog = setInterval(() => {
    if (count === lastProgress) controller.abort();
    lastProgress = count;
  }, 10_000);
  const start = performance.now();
  try {
    if (expected > 0) {
      const check = (record: ConsumedRecord) => {
        if (record.offset !== nextOffset[record.partition]) anomalies++;
        nextOffset[record.partition] = record.offset + 1;
        if (record.value === null || record.value.length !== VALUE_BYTES) anomalies++;
        count++;
      };
      if (api === 'consume') {
        for await (const record of client.consume(topic, { from: 'earliest', signal: controller.signal })) {
          check(record);
          if (count >= expected) break;
        }
      } else {
        for await (const records of client.consumeBatches(topic, { from: 'earliest', signal: controller.signal })) {
          for (const record of records) check(record);
          if (count >= expected) break;
        }
      }
    }
  } finally {
    clearInterval(watchdog);
  }
  const seconds = (performance.now() - start) / 1000;
  if (count < expected) {
    log(`  ! replay of ${topic} stalled at ${count} of ${expected} records (no progress for 10 s)`);
    anomalies += expected - count;
  }
  return { topic, api, records: count, seconds, recordsPerSec: count / seconds, mbPerSec: storedBytes / seconds / MB, anomalies };
}

/** The table labels replay i with produced[i >> 1]: each topic is read twice, in `produced` order. */
export async function runReplayStep(client: StrataClient, address: string, produced: ProduceResult[], pullMbPerSec: number, clientCpuProfDir: string | undefined): Promise<ReplayResult[]> {
  log('## 3. Replay from offset 0 (client.consume and client.consumeBatches, from: earliest, default maxBytes 1 MiB)');
  const replays: ReplayResult[] = [];
  await profiled('replay', clientCpuProfDir, async () => {
    for (const p of produced) {
      const description = await client.admin.describeTopic(p.topic);
      const storedBytes = description.partitions.reduce((sum, d) => sum + Number(d.sizeBytes), 0);
      for (const api of ['consume', 'consumeBatches'] as const) {
        const replayClient = new StrataClient({ address });
        try {
          const r = await measureReplay(replayClient, p.topic, p.logRecords, storedBytes, api);
          replays.push(r);
          log(`  ${p.topic} (${api}): ${fmt(r.recordsPerSec)} records/s, ${fmt(r.mbPerSec, 1)} MB/s, ${fmt(r.records)} records in ${fmt(r.seconds, 2)} s${r.anomalies > 0 ? `  ! ${r.anomalies} anomalies` : ''}`);
        } finally {
          replayClient.close();
        }
      }
    }
  });
  log('');
  log(
    table(
      ['topic (produced by)', 'read with', 'records', 'records/s', 'MB/s', '/ Pull ceiling', 'in order, none missing', 'target 1M rec/s'],
      replays.map((r, i) => [
        `${produced[i >> 1]!.api}, flush=${produced[i >> 1]!.flush}, ${produced[i >> 1]!.keyed ? 'keyed' : 'unkeyed'}, window ${fmt(produced[i >> 1]!.window)}`,
        r.api,
        fmt(r.records),
        fmt(r.recordsPerSec),
        fmt(r.mbPerSec, 1),
        pct(r.mbPerSec / pullMbPerSec),
        r.anomalies === 0 ? 'yes' : `NO (${r.anomalies})`,
        r.recordsPerSec >= 1_000_000 ? 'met' : `missed (${pct(r.recordsPerSec / 1_000_000)} of it)`,
      ]),
    ),
  );
  log('');
  return replays;
}
