/**
 * Step 3b: fairness across partitions of one consume() (issue 13): a topic of 3 partitions, one with
 * a backlog of BACKLOG_RECORDS and two with OTHER_RECORDS each, read from offset 0 through
 * client.consume() and client.consumeBatches(). Shows, per read, the longest run of other
 * partitions' records (arrays for consumeBatches) handed out before a small partition's first record
 * or between two of its records (and between two only: at the start the backlog's first responses
 * may come before theirs), and how much of the backlog went out before the small partitions were
 * done. Round robin gives ~128 records (2 slices of 64) and 2 arrays; handing out responses whole
 * gives a response of the backlog or more (~8.7k records at 1 MiB).
 */
import { performance } from 'node:perf_hooks';
import type { ConsumedRecord } from '../../src/client/consume.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { fmt, log, table } from './report-format.js';
import { VALUE, topicName } from './workload.js';

const BACKLOG_RECORDS = 100_000;
const OTHER_RECORDS = 5_000;
const SEND_BATCH_RECORDS = 1_000;

export interface FairnessResult {
  api: 'consume' | 'consumeBatches';
  maxBytes: number | undefined;
  /** Longest run of other partitions' records (consume) or arrays (consumeBatches) before or between a small partition's. */
  longestGap: number;
  /** Where it ended: how many records (arrays) had been handed out then, all partitions together. */
  longestGapEndsAt: number;
  /** The same after each small partition's first record (the start is a race: the backlog's first response may come before theirs). */
  longestGapAfterFirst: number;
  /** Backlog records handed out before both small partitions were done. */
  backlogBeforeOthersDone: number;
  seconds: number;
  /** Records out of order or repeated per partition: must be 0. */
  anomalies: number;
}

async function measure(address: string, topic: string, api: FairnessResult['api'], maxBytes: number | undefined): Promise<FairnessResult> {
  const client = new StrataClient({ address });
  const controller = new AbortController();
  const watchdog = setTimeout(() => controller.abort(), 30_000);
  const handed = [0, 0, 0];
  const nextOffset = [0, 0, 0];
  const lastSeenAt = [-1, -1, -1];
  let units = 0;
  let longestGap = 0;
  let longestGapEndsAt = 0;
  let longestGapAfterFirst = 0;
  let anomalies = 0;
  const see = (records: readonly ConsumedRecord[]) => {
    const partition = records[0]!.partition;
    for (const record of records) {
      if (record.partition !== partition || record.offset !== nextOffset[partition]) anomalies++;
      nextOffset[partition] = record.offset + 1;
    }
    const gap = units - lastSeenAt[partition]! - 1;
    if (partition !== 0 && gap > longestGap) {
      longestGap = gap;
      longestGapEndsAt = units;
    }
    if (partition !== 0 && lastSeenAt[partition]! >= 0) longestGapAfterFirst = Math.max(longestGapAfterFirst, gap);
    lastSeenAt[partition] = units;
    handed[partition]! += records.length;
    units++;
  };
  const isDone = () => handed[1] === OTHER_RECORDS && handed[2] === OTHER_RECORDS;
  const options = { from: 'earliest' as const, signal: controller.signal, ...(maxBytes ? { maxBytes } : {}) };
  const start = performance.now();
  try {
    if (api === 'consume') {
      for await (const record of client.consume(topic, options)) {
        see([record]);
        if (isDone()) break;
      }
    } else {
      for await (const records of client.consumeBatches(topic, options)) {
        see(records);
        if (isDone()) break;
      }
    }
  } finally {
    clearTimeout(watchdog);
    client.close();
  }
  if (!isDone()) anomalies += 2 * OTHER_RECORDS - handed[1]! - handed[2]!;
  return { api, maxBytes, longestGap, longestGapEndsAt, longestGapAfterFirst, backlogBeforeOthersDone: handed[0]!, seconds: (performance.now() - start) / 1000, anomalies };
}

export async function runFairnessStep(client: StrataClient, address: string): Promise<FairnessResult[]> {
  log(`## 3b. Fairness across partitions: one partition with a backlog of ${fmt(BACKLOG_RECORDS)} records, two with ${fmt(OTHER_RECORDS)}, read from offset 0`);
  const topic = topicName('fairness');
  await client.admin.createTopic(topic, { partitions: 3 });
  const producer = client.producer();
  try {
    for (let sent = 0; sent < BACKLOG_RECORDS; sent += SEND_BATCH_RECORDS) await producer.sendBatch(topic, Array.from({ length: SEND_BATCH_RECORDS }, () => ({ partition: 0, value: VALUE })));
    for (const partition of [1, 2]) {
      for (let sent = 0; sent < OTHER_RECORDS; sent += SEND_BATCH_RECORDS) await producer.sendBatch(topic, Array.from({ length: SEND_BATCH_RECORDS }, () => ({ partition, value: VALUE })));
    }
  } finally {
    await producer.close();
  }
  const results: FairnessResult[] = [];
  for (const [api, maxBytes] of [['consume', undefined], ['consume', 64 * 1024], ['consumeBatches', 64 * 1024]] as const) results.push(await measure(address, topic, api, maxBytes));
  log('');
  log(
    table(
      ['read with', 'maxBytes', 'longest gap of partitions 1 and 2', 'it ended after', 'after their first record', 'backlog records handed before they were done', 'in order, none missing'],
      results.map((r) => [
        r.api,
        r.maxBytes ? `${fmt(r.maxBytes / 1024)} KiB` : 'default (1 MiB)',
        `${fmt(r.longestGap)} ${r.api === 'consume' ? 'records' : 'arrays'}`,
        fmt(r.longestGapEndsAt),
        fmt(r.longestGapAfterFirst),
        fmt(r.backlogBeforeOthersDone),
        r.anomalies === 0 ? 'yes' : `NO (${r.anomalies})`,
      ]),
    ),
  );
  log('');
  return results;
}
