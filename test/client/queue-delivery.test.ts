import { describe, expect, it } from 'vitest';
import { messagesOf } from '../../src/client/queue-delivery.js';
import type { QueueMessageSession } from '../../src/client/queue-message.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { CRC_POSITION } from '../../src/format/record-batch-layout.js';

const session = {} as QueueMessageSession;
const batches = Buffer.concat([
  encodeRecordBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }], { baseOffset: 10 }),
  encodeRecordBatch([{ value: 'd' }, { value: 'e' }], { baseOffset: 13 }),
  encodeRecordBatch([{ value: 'f' }], { baseOffset: 15 }),
]);
const delivered = (offset: number, deliveryCount = 1) => ({ offset, deliveryCount, lockDeadlineMs: 1_000 + offset });

describe('messagesOf (a queue delivery into messages)', () => {
  it('hands out the listed offsets only, in the order listed, with their delivery counts and deadlines', () => {
    const messages = messagesOf({ topic: 't', partition: 2, batches, records: [delivered(14, 3), delivered(11)], throttleTimeMs: 0 }, session);
    expect(messages.map((m) => [m.offset, m.value!.toString(), m.deliveryCount, m.lockDeadlineMs, m.partition])).toEqual([
      [14, 'e', 3, 1_014, 2],
      [11, 'b', 1, 1_011, 2],
    ]);
  });

  it('a listed offset that is in none of the batches is DATA_LOSS, not a message short', () => {
    expect(() => messagesOf({ topic: 't', partition: 0, batches, records: [delivered(11), delivered(16)], throttleTimeMs: 0 }, session)).toThrow(
      expect.objectContaining({ code: 'DATA_LOSS', message: expect.stringMatching(/offset 16 was delivered but is in none of its batches/) }),
    );
  });

  it('a batch that does not decode is DATA_LOSS', () => {
    const damaged = Buffer.from(batches);
    damaged[CRC_POSITION] = damaged[CRC_POSITION]! ^ 0xff;
    expect(() => messagesOf({ topic: 't', partition: 0, batches: damaged, records: [delivered(10)], throttleTimeMs: 0 }, session)).toThrow(expect.objectContaining({ code: 'DATA_LOSS', retriable: false }));
  });
});
