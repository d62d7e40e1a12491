import { describe, expect, it } from 'vitest';
import { RecordValidationFailedError } from '../../src/core/errors.js';
import { MAX_SCHEMA_DECODERS } from '../../src/core/limits.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { validateBatches } from '../../src/format/record-batch.js';
import type { SchemaRegistry } from '../../src/schemas/schema-registry.js';
import { RecordSchemaCheck } from '../../src/server/record-schema-check.js';

/** A registry of Avro `"int"` schemas, counting what the check asks of it. */
function fakeRegistry(idsBySubject: Map<string, Set<number>>) {
  const calls = { liveIdsOf: 0, resolvedById: [] as number[] };
  let listener: ((subject: string) => void) | undefined;
  const registry = {
    liveIdsOf: (subject: string) => {
      calls.liveIdsOf++;
      return new Set(idsBySubject.get(subject) ?? []);
    },
    getById: (id: number) => ({ schemaType: 'AVRO', schema: '"int"', references: [], id }),
    resolvedById: (id: number) => {
      calls.resolvedById.push(id);
      return { schemaType: 'AVRO' as const, schema: '"int"', references: [] };
    },
    onSubjectChanged: (l: (subject: string) => void) => {
      listener = l;
      return () => (listener = undefined);
    },
  };
  return { registry: registry as unknown as SchemaRegistry, calls, changed: (subject: string) => listener?.(subject) };
}

function request(ids: number[]): { batches: Buffer; headers: ReturnType<typeof validateBatches> } {
  const batches = encodeRecordBatch(ids.map((id) => ({ value: Buffer.from([0, (id >>> 24) & 0xff, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff, 0x02]) })));
  return { batches, headers: validateBatches(batches, { maxBatchBytes: 1024 * 1024 }) };
}

const ID = { schemaValidation: 'id', schemaKeyValidation: false, schemaSubjectStrategy: 'topic', maxBatchBytes: 1024 * 1024 } as const;
const FULL = { ...ID, schemaValidation: 'full' } as const;

describe('RecordSchemaCheck caches', () => {
  it('asks the registry for a subject ids once, and again only after the registry says the subject changed', () => {
    const ids = new Map([['t-value', new Set([1])]]);
    const { registry, calls, changed } = fakeRegistry(ids);
    const check = new RecordSchemaCheck(registry);
    for (let i = 0; i < 5; i++) {
      const { batches, headers } = request([1, 1, 1]);
      check.check('t', ID, batches, headers);
    }
    expect(calls.liveIdsOf).toBe(1);
    ids.get('t-value')!.add(2);
    const { batches, headers } = request([2]);
    expect(() => check.check('t', ID, batches, headers)).toThrow(RecordValidationFailedError);
    changed('other-value');
    expect(() => check.check('t', ID, batches, headers)).toThrow(RecordValidationFailedError);
    changed('t-value');
    check.check('t', ID, batches, headers);
    expect(calls.liveIdsOf).toBe(2);
  });

  it('compiles a schema once per id under full, keeping at most MAX_SCHEMA_DECODERS, least recently used dropped first', () => {
    const all = Array.from({ length: MAX_SCHEMA_DECODERS + 1 }, (_, i) => i + 1);
    const { registry, calls } = fakeRegistry(new Map([['t-value', new Set(all)]]));
    const check = new RecordSchemaCheck(registry);
    const run = (ids: number[]) => {
      const { batches, headers } = request(ids);
      check.check('t', FULL, batches, headers);
    };
    run([1, 1, 2, 1]);
    expect(calls.resolvedById).toEqual([1, 2]);
    run(all.slice(2, MAX_SCHEMA_DECODERS)); // ids 3..1000: the cache is full
    run([1]); // 1 is now the most recent, 2 the least
    calls.resolvedById.length = 0;
    run([MAX_SCHEMA_DECODERS + 1]); // evicts 2
    run([1]);
    expect(calls.resolvedById).toEqual([MAX_SCHEMA_DECODERS + 1]);
    run([2]);
    expect(calls.resolvedById).toEqual([MAX_SCHEMA_DECODERS + 1, 2]);
  });

  it('does nothing at all under none', () => {
    const { registry, calls } = fakeRegistry(new Map());
    const { batches, headers } = request([1]);
    new RecordSchemaCheck(registry).check('t', { ...ID, schemaValidation: 'none' }, batches, headers);
    expect(calls.liveIdsOf).toBe(0);
  });
});
