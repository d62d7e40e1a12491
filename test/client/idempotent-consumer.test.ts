import { describe, expect, it } from 'vitest';
import { IdempotentConsumer, messageIdOf, processedKeyOf, MESSAGE_ID_HEADER, type ProcessedKeyStore, type RecordIdentity } from '../../src/client/idempotent-consumer.js';
import { MemoryProcessedKeyStore } from '../../src/client/memory-processed-key-store.js';
import { NonRetriableError } from '../../src/client/non-retriable-error.js';
import { InvalidArgumentError } from '../../src/core/errors.js';

const record = (offset: number, messageId?: string | Buffer | null, partition = 0): RecordIdentity => ({
  topic: 'orders',
  partition,
  offset,
  headers: messageId === undefined ? [{ key: 'trace', value: Buffer.from('x') }] : [{ key: MESSAGE_ID_HEADER, value: typeof messageId === 'string' ? Buffer.from(messageId) : messageId }],
});

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('processedKeyOf', () => {
  it('keys a record by its message id per topic, else by topic/partition/offset', () => {
    expect(processedKeyOf(record(7, 'order-42'))).toBe('id:orders/order-42');
    // The same message at another offset and partition (its producer sent it twice) has the same key.
    expect(processedKeyOf(record(9, 'order-42', 3))).toBe('id:orders/order-42');
    expect(processedKeyOf(record(7))).toBe('offset:orders/0/7');
    expect(processedKeyOf({ ...record(7), partition: 2 })).toBe('offset:orders/2/7');
    // A message id that looks like an offset key never matches one.
    expect(processedKeyOf(record(1, 'orders/0/7'))).not.toBe(processedKeyOf(record(7)));
  });

  it('takes an id of 1 to 200 bytes of UTF-8 and refuses any other as NonRetriableError (to the dead-letter topic)', () => {
    expect(messageIdOf(record(0, 'é'.repeat(100)))).toBe('é'.repeat(100));
    const bad: Array<[RecordIdentity, RegExp]> = [
      [record(0, ''), /0 bytes/],
      [record(0, null), /null/],
      [record(0, 'x'.repeat(201)), /201 bytes/],
      [record(0, Buffer.from([0xc3, 0x28])), /not UTF-8/],
      [{ ...record(0, 'a'), headers: [{ key: MESSAGE_ID_HEADER, value: Buffer.from('a') }, { key: MESSAGE_ID_HEADER, value: Buffer.from('a') }] }, /more than one/],
    ];
    for (const [r, message] of bad) {
      let error: unknown;
      try {
        processedKeyOf(r);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(NonRetriableError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain('orders/0@0');
      expect((error as Error).cause).toBeInstanceOf(InvalidArgumentError);
    }
  });
});

describe('IdempotentConsumer', () => {
  it('runs a handler once per key and skips the repeats, counting both and telling onDuplicate', async () => {
    const duplicates: string[] = [];
    const idem = new IdempotentConsumer({ store: new MemoryProcessedKeyStore(), onDuplicate: (_r, key) => void duplicates.push(key) });
    const seen: number[] = [];
    const handle = idem.handler(async (r: RecordIdentity) => void seen.push(r.offset));
    for (const r of [record(0, 'a'), record(1, 'b'), record(2, 'a'), record(3), record(3), record(4, 'b', 1)]) await handle(r);
    expect(seen).toEqual([0, 1, 3]);
    expect(duplicates).toEqual(['id:orders/a', 'offset:orders/0/3', 'id:orders/b']);
    expect(idem.counts).toEqual({ processed: 3, duplicates: 3 });
  });

  it('passes the store\'s transaction and the consumer\'s context to the handler, and run() says whether the effect ran', async () => {
    const log: string[] = [];
    const keys = new Set<string>();
    // A store in the shape of a database one: the effect gets the transaction the mark is written in.
    const store: ProcessedKeyStore<{ write(line: string): void }> = {
      async runOnce(key, effect) {
        if (keys.has(key)) return false;
        const pending: string[] = [];
        await effect({ write: (line) => void pending.push(line) });
        keys.add(key);
        log.push(...pending, `commit ${key}`);
        return true;
      },
    };
    const idem = new IdempotentConsumer({ store });
    const handle = idem.handler(async (r: RecordIdentity, tx, context: { attempt: number }) => tx.write(`${r.offset}@${context.attempt}`));
    await handle(record(5, 'x'), { attempt: 2 });
    await handle(record(6, 'x'), { attempt: 1 });
    expect(log).toEqual(['5@2', 'commit id:orders/x']);
    expect(await idem.run(record(7), (tx) => tx.write('7'))).toBe(true);
    expect(await idem.run(record(7), (tx) => tx.write('7 again'))).toBe(false);
    expect(log).toEqual(['5@2', 'commit id:orders/x', '7', 'commit offset:orders/0/7']);
  });

  it('runs one call per key at a time: a duplicate arriving while the first is under way waits and is skipped', async () => {
    const idem = new IdempotentConsumer({ store: new MemoryProcessedKeyStore() });
    const gate = deferred();
    let effects = 0;
    const first = idem.run(record(0, 'same'), async () => {
      effects++;
      await gate.promise;
    });
    const second = idem.run(record(9, 'same', 1), () => void effects++);
    const other = idem.run(record(1, 'other'), () => void effects++);
    expect(await other).toBe(true); // other keys do not wait
    expect(effects).toBe(2);
    gate.resolve();
    expect(await first).toBe(true);
    expect(await second).toBe(false);
    expect(effects).toBe(2);
  });

  it('lets the waiting duplicate run when the first attempt fails, and marks nothing for the failure', async () => {
    const store = new MemoryProcessedKeyStore();
    const idem = new IdempotentConsumer({ store });
    const gate = deferred();
    const failure = new Error('database down');
    const first = idem.run(record(0, 'same'), async () => {
      await gate.promise;
      throw failure;
    });
    let secondRan = false;
    const second = idem.run(record(0, 'same'), () => void (secondRan = true));
    gate.resolve();
    await expect(first).rejects.toBe(failure);
    expect(await second).toBe(true);
    expect(secondRan).toBe(true);
    expect(idem.counts).toEqual({ processed: 1, duplicates: 0 });
  });

  it('throws a malformed message id out of the handler without calling the store or the handler', async () => {
    let storeCalls = 0;
    const idem = new IdempotentConsumer({
      store: {
        runOnce: async () => {
          storeCalls++;
          return true;
        },
      },
    });
    let handled = 0;
    await expect(idem.handler(async () => void handled++)(record(3, ''))).rejects.toBeInstanceOf(NonRetriableError);
    expect([storeCalls, handled]).toEqual([0, 0]);
  });

  it('uses keyOf when given, and refuses a missing store', async () => {
    const idem = new IdempotentConsumer({ store: new MemoryProcessedKeyStore(), keyOf: (r) => `order:${r.offset % 2}` });
    expect(await idem.run(record(0), () => undefined)).toBe(true);
    expect(await idem.run(record(2), () => undefined)).toBe(false);
    expect(await idem.run(record(3), () => undefined)).toBe(true);
    expect(() => new IdempotentConsumer({} as never)).toThrow(InvalidArgumentError);
  });
});
