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

  it('pushAll adds what fits, waiting takers first, then waits for room for the rest; the capacity holds', async () => {
    const buffer = new RecordBuffer<number>(4);
    const taker = buffer.take();
    await buffer.pushAll([1, 2, 3]);
    expect(await taker).toBe(1);
    expect(buffer.size).toBe(2);
    let isDone = false;
    const chunk = buffer.pushAll([4, 5, 6, 7, 8, 9]).then(() => (isDone = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(isDone).toBe(false);
    expect(buffer.size).toBe(4); // 2, 3, 4, 5: the rest waits
    const taken: number[] = [];
    while (taken.length < 8) {
      taken.push(buffer.tryTake() ?? (await buffer.take())!);
      expect(buffer.size).toBeLessThanOrEqual(4);
    }
    await chunk;
    expect(taken).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('two pushers of large and small chunks take turns while the loop drains slowly', async () => {
    const buffer = new RecordBuffer<string>(10);
    const large = (async () => {
      for (let i = 0; i < 5; i++) await buffer.pushAll(Array.from({ length: 8 }, () => 'a'));
    })();
    const small = (async () => {
      for (let i = 0; i < 100; i++) await buffer.pushAll(['b', 'b']);
    })();
    const seen: string[] = [];
    for (let i = 0; i < 60; i++) {
      seen.push((await buffer.take())!);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Before the fix the large pusher got nothing until the small one ran dry (after 200 records).
    expect(seen.filter((t) => t === 'a').length).toBeGreaterThan(10);
    expect(seen.filter((t) => t === 'b').length).toBeGreaterThan(10);
    buffer.close();
    await Promise.all([large, small]);
  });
});

describe('RecordBuffer lanes', () => {
  it('hands out lanes round robin, a slice at a time, and a full lane does not keep another lane waiting', async () => {
    const buffer = new RecordBuffer<string>(200, { sliceItems: 3 });
    // Lane a fills its share first and has more to push: its pusher waits for room.
    const aDone = buffer.pushAll(Array.from({ length: 400 }, (_, i) => `a${i}`), undefined, 'a');
    await Promise.resolve();
    expect(buffer.size).toBe(200);
    // Lane b arrives later: it is not kept out by a's backlog.
    await buffer.pushAll(['b0', 'b1', 'b2', 'b3', 'b4'], undefined, 'b');
    expect(buffer.takeAvailable(11)).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'a3', 'a4', 'a5', 'b3', 'b4']);
    let taken = 11;
    while (taken < 405) {
      expect(await buffer.take()).toBeDefined();
      taken++;
    }
    await aDone;
    expect(buffer.size).toBe(0);
  });

  it('drops items of one lane and goes on with the others', async () => {
    const buffer = new RecordBuffer<string>(100, { sliceItems: 2 });
    await buffer.pushAll(['a0', 'a1', 'a2'], undefined, 'a');
    await buffer.pushAll(['b0', 'b1', 'b2'], undefined, 'b');
    await buffer.pushAll(['c0'], undefined, 'c');
    expect(buffer.tryTake()).toBe('a0');
    buffer.drop((item) => item.startsWith('b'));
    expect(buffer.size).toBe(3);
    expect(buffer.takeAvailable(10)).toEqual(['a1', 'c0', 'a2']);
  });

  it('a paused lane is skipped (also by a waiting take) while the others go on; resumed, it goes on in order, last in the round', async () => {
    const buffer = new RecordBuffer<string>(100, { sliceItems: 2 });
    await buffer.pushAll(['a0', 'a1', 'a2'], undefined, 'a');
    await buffer.pushAll(['b0', 'b1'], undefined, 'b');
    expect(buffer.tryTake()).toBe('a0');
    buffer.pauseLane('a');
    expect(buffer.size).toBe(2);
    expect(buffer.takeAvailable(10)).toEqual(['b0', 'b1']);
    expect(buffer.tryTake()).toBeUndefined();
    // A take waiting while only the paused lane holds items gets neither those nor new ones of it...
    const waiting = buffer.take();
    await buffer.pushAll(['a3'], undefined, 'a');
    let taken: string | undefined;
    void waiting.then((item) => (taken = item));
    await new Promise((resolve) => setImmediate(resolve));
    expect(taken).toBeUndefined();
    // ...but an item of another lane, at once.
    await buffer.pushAll(['c0', 'c1'], undefined, 'c');
    expect(await waiting).toBe('c0');
    buffer.resumeLane('a');
    expect(buffer.size).toBe(4);
    expect(buffer.takeAvailable(10)).toEqual(['c1', 'a1', 'a2', 'a3']);
  });

  it('a resumed lane feeds a waiting take first; a lane paused before it held anything keeps what is pushed to it', async () => {
    const buffer = new RecordBuffer<string>(100);
    buffer.pauseLane('a');
    await buffer.pushAll(['a0', 'a1'], undefined, 'a');
    expect(buffer.size).toBe(0);
    const waiting = buffer.take();
    buffer.resumeLane('a');
    expect(await waiting).toBe('a0');
    expect(buffer.takeAvailable(10)).toEqual(['a1']);
    // Resuming a lane that is not paused changes nothing.
    buffer.resumeLane('a');
    expect(buffer.size).toBe(0);
  });

  it("a paused lane's pusher fills the lane's share of the room and waits, while another lane's pusher gets its own share", async () => {
    const buffer = new RecordBuffer<string>(128);
    buffer.pauseLane('a');
    let aPushed = 0;
    const aDone = (async () => {
      for (let i = 0; i < 300; i++) {
        await buffer.push(`a${i}`, undefined, 'a');
        aPushed++;
      }
    })();
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    // Alone, it may take the whole room: then it waits, the lane paused.
    expect(aPushed).toBe(128);
    await buffer.pushAll(Array.from({ length: 64 }, (_, i) => `b${i}`), undefined, 'b');
    expect(buffer.takeAvailable(100)).toEqual(Array.from({ length: 64 }, (_, i) => `b${i}`));
    expect(aPushed).toBe(128);
    buffer.drop((item) => item.startsWith('a'));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    // Dropping its items frees its room: the pusher goes on, into the still paused lane.
    expect(aPushed).toBe(256);
    expect(buffer.size).toBe(0);
    buffer.close();
    await aDone;
  });
});
