import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { UnknownProducerError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { MESSAGE_ID_HEADER } from '../../src/format/message-ids.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import { decodeAll } from '../helpers/batches.js';
import { useLogManagerFixture } from '../helpers/log-manager-fixture.js';
import { readAllBatches } from '../helpers/open-log.js';

const PRODUCER_ID = 7;

/** One idempotent batch: records named `values`, each with the message id of the same name unless it starts with '-'. */
function batch(baseSequence: number, values: string[], producerEpoch = 0): Buffer {
  return encodeRecordBatch(
    values.map((value) => ({
      value,
      timestampMs: 1_700_000_000_000,
      headers: value.startsWith('-') ? {} : ({ [MESSAGE_ID_HEADER]: value.split('#')[0]! } as Record<string, string>),
    })),
    { producerId: PRODUCER_ID, producerEpoch, baseSequence },
  );
}

async function values(manager: LogManager): Promise<string[]> {
  return decodeAll(await readAllBatches(manager.partition('t', 0))).map((r) => r.value);
}

/**
 * The rule: the producer sequence check comes first and covers the whole request; a batch's
 * sequences are used up whether its records were written or dropped as duplicates. A retry the
 * sequences recognise writes nothing and is answered per record from the ids.
 */
describe('message-id dedupe with the idempotent producer', () => {
  const fixture = useLogManagerFixture('strata-dedupe-seq-');

  async function start(): Promise<{ manager: LogManager; broker: Broker }> {
    const manager = await fixture.open();
    if (manager.partitionCount('t') === undefined) await manager.createTopic('t', 1, { 'dedupe.window.ms': '600000' });
    const broker = new Broker(manager, fixture.clock, silentLogger);
    await broker.restoreProducerState(1024 * 1024);
    await broker.restoreMessageIds();
    return { manager, broker };
  }

  async function restart(manager: LogManager): Promise<{ manager: LogManager; broker: Broker }> {
    await manager.close();
    return start();
  }

  it('live: after a partly duplicate batch the next batch is accepted, and a retry of it gets the same per-record answer', async () => {
    const { manager, broker } = await start();
    expect(await broker.produce('t', 0, batch(0, ['a', 'b', '-c']), undefined)).toMatchObject({ baseOffset: 0, lastOffset: 2 });
    const partly = await broker.produce('t', 0, batch(3, ['a#2', 'd', '-e']), undefined);
    expect(partly).toMatchObject({ baseOffset: 3, lastOffset: 4, isDuplicate: false, duplicateRecords: [{ index: 0, originalOffset: 0 }] });
    expect(await broker.produce('t', 0, batch(6, ['f']), undefined)).toMatchObject({ baseOffset: 5, lastOffset: 5, isDuplicate: false });
    // Retries: nothing written, the original offsets, the same duplicates.
    expect(await broker.produce('t', 0, batch(3, ['a#2', 'd', '-e']), undefined)).toMatchObject({
      baseOffset: 3,
      lastOffset: 4,
      isDuplicate: true,
      duplicateRecords: [{ index: 0, originalOffset: 0 }],
    });
    expect(await broker.produce('t', 0, batch(0, ['a', 'b', '-c']), undefined)).toMatchObject({ baseOffset: 0, lastOffset: 2, isDuplicate: true, duplicateRecords: [] });
    expect(await values(manager)).toEqual(['a', 'b', '-c', 'd', '-e', 'f']);
  });

  it('live: a batch of duplicates only uses up its sequences; the next batch is accepted and a retry of it is answered again', async () => {
    const { manager, broker } = await start();
    await broker.produce('t', 0, batch(0, ['a', 'b']), undefined);
    expect(await broker.produce('t', 0, batch(2, ['b#2', 'a#2']), undefined)).toMatchObject({
      baseOffset: -1,
      lastOffset: -1,
      isDuplicate: true,
      duplicateRecords: [
        { index: 0, originalOffset: 1 },
        { index: 1, originalOffset: 0 },
      ],
    });
    expect(await broker.produce('t', 0, batch(4, ['c']), undefined)).toMatchObject({ baseOffset: 2, isDuplicate: false });
    expect(await broker.produce('t', 0, batch(2, ['b#2', 'a#2']), undefined)).toMatchObject({ baseOffset: -1, isDuplicate: true, duplicateRecords: [{ index: 0, originalOffset: 1 }, { index: 1, originalOffset: 0 }] });
    expect(await values(manager)).toEqual(['a', 'b', 'c']);
  });

  it('after a restart: an id appended before it is still a duplicate, the next batch after a partly duplicate one is accepted, and its retry is answered per record', async () => {
    let { manager, broker } = await start();
    await broker.produce('t', 0, batch(0, ['a', '-b']), undefined);
    await broker.produce('t', 0, batch(2, ['a#2', 'c', '-d']), undefined);
    ({ manager, broker } = await restart(manager));
    // The retry of the partly duplicate batch, whose answer was lost in the restart.
    expect(await broker.produce('t', 0, batch(2, ['a#2', 'c', '-d']), undefined)).toMatchObject({
      baseOffset: 2,
      lastOffset: 3,
      isDuplicate: true,
      duplicateRecords: [{ index: 0, originalOffset: 0 }],
    });
    // The producer's next batch continues its sequence (the rebuilt batch kept its last sequence).
    expect(await broker.produce('t', 0, batch(5, ['e', 'c#2']), undefined)).toMatchObject({ baseOffset: 4, lastOffset: 4, duplicateRecords: [{ index: 1, originalOffset: 2 }] });
    // Another producer (no sequences) re-sending an id from before the restart.
    const other = encodeRecordBatch([{ value: 'a#3', headers: { [MESSAGE_ID_HEADER]: 'a' }, timestampMs: 1_700_000_000_000 }]);
    expect(await broker.produce('t', 0, other, undefined)).toMatchObject({ isDuplicate: true, duplicateRecords: [{ index: 0, originalOffset: 0 }] });
    expect(await values(manager)).toEqual(['a', '-b', 'c', '-d', 'e']);
  });

  it('after a restart: a retry of a batch of duplicates only, with a later batch written, is answered from the ids', async () => {
    let { manager, broker } = await start();
    await broker.produce('t', 0, batch(0, ['a']), undefined);
    await broker.produce('t', 0, batch(1, ['a#2']), undefined);
    await broker.produce('t', 0, batch(2, ['b']), undefined);
    ({ manager, broker } = await restart(manager));
    expect(await broker.produce('t', 0, batch(1, ['a#2']), undefined)).toMatchObject({ baseOffset: -1, isDuplicate: true, duplicateRecords: [{ index: 0, originalOffset: 0 }] });
    expect(await broker.produce('t', 0, batch(2, ['b']), undefined)).toMatchObject({ baseOffset: 1, lastOffset: 1, isDuplicate: true, duplicateRecords: [] });
    expect(await broker.produce('t', 0, batch(3, ['c']), undefined)).toMatchObject({ baseOffset: 2, isDuplicate: false });
    expect(await values(manager)).toEqual(['a', 'b', 'c']);
  });

  it('after a restart: when the last batch before it held duplicates only (nothing in the log says so), the next batch is UNKNOWN_PRODUCER and is accepted renumbered under a new epoch', async () => {
    let { manager, broker } = await start();
    await broker.produce('t', 0, batch(0, ['a']), undefined);
    await broker.produce('t', 0, batch(1, ['a#2']), undefined);
    ({ manager, broker } = await restart(manager));
    await expect(broker.produce('t', 0, batch(2, ['b']), undefined)).rejects.toBeInstanceOf(UnknownProducerError);
    // What the client does on UNKNOWN_PRODUCER: the unacknowledged batches from 0 under the next epoch.
    expect(await broker.produce('t', 0, batch(0, ['b', 'a#3'], 1), undefined)).toMatchObject({ baseOffset: 1, duplicateRecords: [{ index: 1, originalOffset: 0 }] });
    expect(await values(manager)).toEqual(['a', 'b']);
  });
});
