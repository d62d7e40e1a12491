import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { InvalidMessageIdError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { MAX_DEDUPE_IDS_PER_PARTITION, MAX_MESSAGE_ID_BYTES } from '../../src/core/limits.js';
import { MESSAGE_ID_HEADER } from '../../src/format/message-ids.js';
import { decodeRecordBatch, encodeRecordBatch, iterateBatches, type RecordInput } from '../../src/format/record-batch-codec.js';
import type { RecordHeader } from '../../src/format/record.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import { useLogManagerFixture } from '../helpers/log-manager-fixture.js';
import { readAllBatches } from '../helpers/open-log.js';

const WINDOW_MS = 60_000;

/** A record with value `value` and, unless undefined, message id `id`. */
function rec(value: string, id?: string, extraHeaders: RecordHeader[] = []): RecordInput {
  const headers: RecordHeader[] = [...extraHeaders];
  if (id !== undefined) headers.push({ key: MESSAGE_ID_HEADER, value: Buffer.from(id) });
  return { key: null, value, headers, timestampMs: 1_700_000_000_000 };
}

interface Stored {
  offset: number;
  value: string;
  id: string | undefined;
}

async function storedRecords(manager: LogManager, topic = 't'): Promise<Stored[]> {
  const batches = await readAllBatches(manager.partition(topic, 0));
  const out: Stored[] = [];
  for (const { position } of iterateBatches(batches)) {
    for (const record of decodeRecordBatch(batches, position).records) {
      const id = record.headers.find((h) => h.key === MESSAGE_ID_HEADER)?.value?.toString('utf8');
      out.push({ offset: record.offset, value: record.value!.toString(), id });
    }
  }
  return out;
}

describe('Broker.produce on a topic with dedupe.window.ms', () => {
  const fixture = useLogManagerFixture('strata-dedupe-');

  async function open(config: Record<string, string> = { 'dedupe.window.ms': String(WINDOW_MS) }): Promise<{ manager: LogManager; broker: Broker }> {
    const manager = await fixture.open();
    await manager.createTopic('t', 1, config);
    return { manager, broker: new Broker(manager, fixture.clock, silentLogger) };
  }

  it('appends records without an id as ever, and a record whose id was appended within the window not again', async () => {
    const { manager, broker } = await open();
    expect(await broker.produce('t', 0, encodeRecordBatch([rec('a', 'id-a'), rec('plain')]), undefined)).toMatchObject({
      baseOffset: 0,
      lastOffset: 1,
      isDuplicate: false,
      duplicateRecords: [],
    });
    expect(await broker.produce('t', 0, encodeRecordBatch([rec('plain')]), undefined)).toMatchObject({ baseOffset: 2, lastOffset: 2, isDuplicate: false });
    expect(await broker.produce('t', 0, encodeRecordBatch([rec('a again', 'id-a')]), undefined)).toEqual({
      baseOffset: -1,
      lastOffset: -1,
      durability: 'durable',
      isDuplicate: true,
      duplicateRecords: [{ index: 0, originalOffset: 0 }],
    });
    expect((await storedRecords(manager)).map((r) => r.value)).toEqual(['a', 'plain', 'plain']);
  });

  it('appends only the new records of a request mixing new and duplicate ones, in a rebuilt batch; a repeated id inside one request is a duplicate of the first', async () => {
    const { manager, broker } = await open();
    await broker.produce('t', 0, encodeRecordBatch([rec('x', 'x'), rec('y', 'y')]), undefined);
    const mixed = encodeRecordBatch([rec('x2', 'x'), rec('n1', 'n1'), rec('plain'), rec('y2', 'y'), rec('n1 again', 'n1'), rec('n2', 'n2', [{ key: 'other', value: Buffer.from('kept') }])]);
    const result = await broker.produce('t', 0, mixed, undefined);
    expect(result).toMatchObject({
      baseOffset: 2,
      lastOffset: 4,
      isDuplicate: false,
      duplicateRecords: [
        { index: 0, originalOffset: 0 },
        { index: 3, originalOffset: 1 },
        { index: 4, originalOffset: 2 },
      ],
    });
    const stored = await storedRecords(manager);
    expect(stored).toEqual([
      { offset: 0, value: 'x', id: 'x' },
      { offset: 1, value: 'y', id: 'y' },
      { offset: 2, value: 'n1', id: 'n1' },
      { offset: 3, value: 'plain', id: undefined },
      { offset: 4, value: 'n2', id: 'n2' },
    ]);
    const batches = await readAllBatches(manager.partition('t', 0));
    const rebuilt = [...iterateBatches(batches)][1]!;
    expect(decodeRecordBatch(batches, rebuilt.position).records[2]!.headers).toEqual([
      { key: 'other', value: Buffer.from('kept') },
      { key: MESSAGE_ID_HEADER, value: Buffer.from('n2') },
    ]);
  });

  it('stores a request without duplicates byte for byte (the normal path does not re-encode)', async () => {
    const { manager, broker } = await open();
    const batch = encodeRecordBatch([rec('a', 'a'), rec('b')]);
    const sent = Buffer.from(batch);
    await broker.produce('t', 0, batch, undefined);
    const stored = await readAllBatches(manager.partition('t', 0));
    // Only the base offset and partition leader epoch (outside the CRC) are the server's.
    expect(stored.subarray(17)).toEqual(sent.subarray(17));
  });

  it('handles gzip batches: a duplicate is dropped and the rest stays gzip', async () => {
    const { manager, broker } = await open();
    await broker.produce('t', 0, encodeRecordBatch([rec('a', 'a')], { compression: 'gzip' }), undefined);
    const result = await broker.produce('t', 0, encodeRecordBatch([rec('a2', 'a'), rec('b', 'b')], { compression: 'gzip' }), undefined);
    expect(result).toMatchObject({ baseOffset: 1, lastOffset: 1, duplicateRecords: [{ index: 0, originalOffset: 0 }] });
    const batches = await readAllBatches(manager.partition('t', 0));
    expect([...iterateBatches(batches)].map((b) => b.header.compression)).toEqual([1, 1]);
    expect((await storedRecords(manager)).map((r) => r.value)).toEqual(['a', 'b']);
  });

  it('answers a request whose ids are being appended by an earlier request once that one is written, with its offsets', async () => {
    const { manager, broker } = await open();
    const first = broker.produce('t', 0, encodeRecordBatch([rec('a', 'a'), rec('b', 'b')]), undefined);
    const second = broker.produce('t', 0, encodeRecordBatch([rec('b2', 'b'), rec('c', 'c')]), undefined);
    const third = broker.produce('t', 0, encodeRecordBatch([rec('a3', 'a')]), undefined);
    expect(await first).toMatchObject({ baseOffset: 0, lastOffset: 1 });
    expect(await second).toMatchObject({ baseOffset: 2, lastOffset: 2, duplicateRecords: [{ index: 0, originalOffset: 1 }] });
    expect(await third).toMatchObject({ baseOffset: -1, isDuplicate: true, duplicateRecords: [{ index: 0, originalOffset: 0 }] });
    expect((await storedRecords(manager)).map((r) => r.value)).toEqual(['a', 'b', 'c']);
  });

  it('writes an id again once its window has passed (injected clock), and at once when the window shrinks', async () => {
    const { manager, broker } = await open();
    await broker.produce('t', 0, encodeRecordBatch([rec('a', 'a')]), undefined);
    fixture.clock.advance(WINDOW_MS - 1);
    expect(await broker.produce('t', 0, encodeRecordBatch([rec('a', 'a')]), undefined)).toMatchObject({ isDuplicate: true });
    fixture.clock.advance(1);
    expect(await broker.produce('t', 0, encodeRecordBatch([rec('a', 'a')]), undefined)).toMatchObject({ baseOffset: 1, isDuplicate: false });
    expect((await storedRecords(manager)).map((r) => r.offset)).toEqual([0, 1]);
  });

  it('refuses a bad id with INVALID_MESSAGE_ID and appends nothing of the request; elsewhere the header is ordinary', async () => {
    const { manager, broker } = await open();
    const bad: Array<[string, RecordHeader[]]> = [
      ['empty', [{ key: MESSAGE_ID_HEADER, value: Buffer.alloc(0) }]],
      ['null', [{ key: MESSAGE_ID_HEADER, value: null }]],
      ['too long', [{ key: MESSAGE_ID_HEADER, value: Buffer.alloc(MAX_MESSAGE_ID_BYTES + 1, 'x') }]],
      ['not UTF-8', [{ key: MESSAGE_ID_HEADER, value: Buffer.from([0x61, 0xff, 0xfe]) }]],
      ['twice', [{ key: MESSAGE_ID_HEADER, value: Buffer.from('a') }, { key: MESSAGE_ID_HEADER, value: Buffer.from('a') }]],
    ];
    for (const [what, headers] of bad) {
      const batch = encodeRecordBatch([rec('good', 'good'), { value: what, headers, timestampMs: 0 }]);
      const error = await broker.produce('t', 0, batch, undefined).catch((e: unknown) => e);
      expect(error, what).toBeInstanceOf(InvalidMessageIdError);
      expect((error as InvalidMessageIdError).code).toBe('INVALID_MESSAGE_ID');
      expect((error as InvalidMessageIdError).retriable).toBe(false);
    }
    expect(await storedRecords(manager)).toEqual([]);
    // The good id was not remembered by a refused request.
    expect(await broker.produce('t', 0, encodeRecordBatch([rec('good', 'good')]), undefined)).toMatchObject({ baseOffset: 0, isDuplicate: false });
    // The longest id is fine.
    expect(await broker.produce('t', 0, encodeRecordBatch([rec('long', 'é'.repeat(MAX_MESSAGE_ID_BYTES / 2))]), undefined)).toMatchObject({ baseOffset: 1 });

    await manager.createTopic('plain', 1);
    const batch = encodeRecordBatch([rec('x', 'same'), { value: 'bad', headers: bad[0]![1], timestampMs: 0 }, rec('y', 'same')]);
    expect(await broker.produce('plain', 0, batch, undefined)).toMatchObject({ baseOffset: 0, lastOffset: 2, isDuplicate: false });
  });

  it('rebuilds the ids of the window at startup: an id from before a restart is a duplicate after it while its batch is within the window', async () => {
    const first = await open();
    const at = (value: string, id: string): RecordInput => ({ ...rec(value, id), timestampMs: fixture.clock.nowMs() });
    await first.broker.produce('t', 0, encodeRecordBatch([at('old', 'old')]), undefined);
    fixture.clock.advance(WINDOW_MS / 2);
    await first.broker.produce('t', 0, encodeRecordBatch([at('recent', 'recent')]), undefined);
    fixture.clock.advance(WINDOW_MS / 2);
    await first.manager.close();
    const manager = await fixture.open();
    const broker = new Broker(manager, fixture.clock, silentLogger);
    expect(await broker.restoreMessageIds()).toMatchObject({ partitionCount: 1, idCount: 1, failedPartitionCount: 0 });
    // 'old' was appended a whole window ago (by its batch's timestamp): written again; 'recent' is not.
    expect(await broker.produce('t', 0, encodeRecordBatch([at('recent', 'recent'), at('old', 'old')]), undefined)).toMatchObject({
      baseOffset: 2,
      lastOffset: 2,
      duplicateRecords: [{ index: 0, originalOffset: 1 }],
    });
    expect((await storedRecords(manager)).map((r) => r.value)).toEqual(['old', 'recent', 'old']);
  });

  it('under ack level none, still drops duplicates', async () => {
    const { manager, broker } = await open();
    await broker.produce('t', 0, encodeRecordBatch([rec('a', 'a')]), 'none');
    await broker.produce('t', 0, encodeRecordBatch([rec('a', 'a'), rec('b', 'b')]), 'none');
    await manager.partition('t', 0).flush();
    await expect.poll(async () => (await storedRecords(manager)).map((r) => r.value)).toEqual(['a', 'b']);
  });

  it('bounds the ids per partition (the constant is what the docs say)', () => {
    expect(MAX_DEDUPE_IDS_PER_PARTITION).toBe(1_000_000);
  });
});
