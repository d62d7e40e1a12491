import { describe, expect, it } from 'vitest';
import { RecordBuffer } from '../../src/client/record-buffer.js';

describe('RecordBuffer', () => {
  it('holds at most its capacity; a waiting push goes on once half the room is free; order is kept', async () => {
    const buffer = new RecordBuffer<number>(4);
    let pushed = 0;
    const producer = (async () => {
      for (let i = 0; i < 20; i++) {
        await buffer.push(i);
        pushed++;
      }
    })();
    await new Promise((resolve) => setImmediate(resolve));
    expect(buffer.size).toBe(4);
    expect(pushed).toBe(4);
    // One taken: still more than half full, the push keeps waiting.
    expect(await buffer.take()).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(buffer.size).toBe(3);
    // Down to half: the pusher fills it up again.
    expect(await buffer.take()).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(buffer.size).toBe(4);
    const taken: number[] = [0, 1];
    for (let i = 2; i < 20; i++) taken.push((await buffer.take())!);
    await producer;
    expect(taken).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('an abort releases a waiting push without adding its item; close releases takers', async () => {
    const buffer = new RecordBuffer<string>(1);
    await buffer.push('a');
    const controller = new AbortController();
    const waiting = buffer.push('b', controller.signal);
    controller.abort();
    await waiting;
    expect(buffer.size).toBe(1);
    expect(await buffer.take()).toBe('a');
    const taker = buffer.take();
    buffer.close();
    expect(await taker).toBeUndefined();
  });

  it('pushAll adds a chunk at once: waiting takers first, then it waits until the whole chunk fits (or the buffer is empty)', async () => {
    const buffer = new RecordBuffer<number>(4);
    const taker = buffer.take();
    await buffer.pushAll([1, 2, 3]);
    expect(await taker).toBe(1);
    expect(buffer.size).toBe(2);
    let isDone = false;
    const chunk = buffer.pushAll([4, 5, 6]).then(() => (isDone = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(isDone).toBe(false); // 2 + 3 > 4
    expect(buffer.tryTake()).toBe(2);
    await chunk;
    expect([buffer.tryTake(), buffer.tryTake(), buffer.tryTake(), buffer.tryTake(), buffer.tryTake()]).toEqual([3, 4, 5, 6, undefined]);
    // Larger than the whole capacity: it waits for an empty buffer, then goes in whole.
    await buffer.pushAll([7]);
    const big = buffer.pushAll([8, 9, 10, 11, 12, 13]);
    expect(buffer.tryTake()).toBe(7);
    await big;
    expect(buffer.size).toBe(6);
  });
});
