import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { ManualClock } from '../../src/core/clock.js';
import { InternalTopicError } from '../../src/core/errors.js';
import { OFFSETS_TOPIC, PRODUCER_IDS_TOPIC } from '../../src/core/internal-topics.js';
import { silentLogger } from '../../src/core/logger.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import { openLog } from '../helpers/open-log.js';
import { rejection } from '../helpers/rejection.js';
import { useTempDir } from '../helpers/temp-dir.js';

/** The broker owns produce admission: internal topics are refused here, not by the gRPC service. */
describe('Broker.produce to an internal topic', () => {
  const dir = useTempDir({ each: true });

  it('refuses __ topics with InternalTopicError at every ack level, before the topic is looked up, and writes nothing', async () => {
    const log = await openLog(dir.path);
    const lookedUp: string[] = [];
    // Every name resolves to the one log, so a refusal that came too late would show as an append.
    const logs = { partition: (topic: string) => (lookedUp.push(topic), log) } as unknown as LogManager;
    const broker = new Broker(logs, new ManualClock(0), silentLogger);
    try {
      for (const topic of [OFFSETS_TOPIC, PRODUCER_IDS_TOPIC, '__queue_state']) {
        for (const ackLevel of ['durable', 'written', 'none', undefined] as const) {
          const refused = await rejection(broker.produce(topic, 0, encodeRecordBatch([{ value: 'x' }]), ackLevel));
          expect(refused).toBeInstanceOf(InternalTopicError);
          expect(refused).toMatchObject({ code: 'INTERNAL_TOPIC', retriable: false });
          expect(refused.message).toMatch(/clients may not produce to it/);
        }
      }
      expect(lookedUp).toEqual([]);
      expect(log.logEndOffset).toBe(0);
      // One underscore is a client's topic.
      expect(await broker.produce('_mine', 0, encodeRecordBatch([{ value: 'y' }]), 'durable')).toMatchObject({ baseOffset: 0, lastOffset: 0, isDuplicate: false });
      expect(lookedUp).toEqual(['_mine']);
    } finally {
      await log.close();
    }
  });
});
