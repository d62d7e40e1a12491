import { describe, expect, it } from 'vitest';
import { recordCountOf } from '../../src/server/record-count.js';
import { makeBatch } from '../helpers/batches.js';

describe('recordCountOf (produce metrics of an unacknowledged request)', () => {
  it('sums the record counts of the batches, and never throws on a damaged buffer', () => {
    const two = Buffer.concat([makeBatch('a', 3), makeBatch('b', 2)]);
    expect(recordCountOf(two)).toBe(5);
    expect(recordCountOf(Buffer.concat([makeBatch('a', 3), Buffer.from('garbage that is not a batch header at all, not even close to 61 bytes long....')]))).toBe(3);
    expect(recordCountOf(Buffer.alloc(0))).toBe(0);
    expect(recordCountOf(Buffer.from('short'))).toBe(0);
  });
});
