import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IncompatibleSchemaError, StorageFailedError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { SCHEMAS_TOPIC, SchemaRegistry } from '../../src/schemas/schema-registry.js';
import type { StateLogPort } from '../../src/storage/state-log-port.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const record = (name: string, fields: unknown[] = [{ name: 'a', type: 'int' }]) => JSON.stringify({ type: 'record', name, fields });
const avro = (schema: string) => ({ schemaType: 'AVRO' as const, schema, references: [] });

describe('SchemaRegistry (__schemas)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let logs: LogManager;
  beforeEach(async () => {
    dir = await makeTempDir();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
  });
  afterEach(async () => {
    await logs.close();
    await dir.remove();
  });

  const reopen = async (options: { segmentBytes?: number } = {}) => {
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    return SchemaRegistry.open(logs, () => 2_000, silentLogger, options);
  };

  it('concurrent registrations under one subject take distinct versions and ids, in the order made', async () => {
    const registry = await SchemaRegistry.open(logs, () => 1_000, silentLogger);
    await registry.setConfig('s', 'NONE');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => registry.register('s', avro(record(`R${i}`)))));
    expect(results.map((r) => r.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(results.map((r) => r.id)).size).toBe(20);
    await registry.close();
  });

  it('compaction keeps the state and the next id: an id hard-deleted before the snapshot is not given again after it', async () => {
    // Small segments so that __schemas is compacted (snapshot, older segments cut) while this runs.
    let registry = await SchemaRegistry.open(logs, () => 1_000, silentLogger, { segmentBytes: 1024 });
    await registry.setConfig(undefined, 'NONE');
    const first = await registry.register('keep', avro(record('Keep')));
    const doomed = await registry.register('doomed', avro(record('Doomed')));
    await registry.deleteSubject('doomed');
    await registry.deleteSubject('doomed', { permanent: true });
    // Churn the log: schemas registered and hard-deleted, so what is live (the snapshot) stays small.
    let highestId = 0;
    for (let i = 0; i < 40; i++) {
      highestId = (await registry.register('churn', avro(record(`Churn${i}`)))).id;
      await registry.deleteSubject('churn');
      await registry.deleteSubject('churn', { permanent: true });
    }
    // Then writes that give no id, so that a later snapshot cuts the records of the highest id too.
    for (let i = 0; i < 100; i++) await registry.setConfig('keep', i % 2 === 0 ? 'FULL' : 'NONE');
    expect(registry.getVersion('keep', 1).id).toBe(first.id);
    await registry.close();
    expect(logs.partition(SCHEMAS_TOPIC, 0).logStartOffset).toBeGreaterThan(0);

    registry = await reopen({ segmentBytes: 1024 });
    expect(registry.listSubjects({ includeDeleted: true })).toEqual(['keep']);
    expect(registry.getVersion('keep', 1).id).toBe(first.id);
    expect(registry.getConfig()).toBe('NONE');
    expect(() => registry.getById(doomed.id)).toThrow();
    const after = await registry.register('fresh', avro(record('Fresh')));
    expect(after.id).toBe(highestId + 1);
    await registry.close();
  });

  it('a failed write stores nothing and answers the storage error; the next registration works', async () => {
    let isFailing = false;
    const port: StateLogPort = {
      listTopics: () => logs.listTopics(),
      createTopic: (name, partitionCount, config) => logs.createTopic(name, partitionCount, config),
      partitionCount: (topic) => logs.partitionCount(topic),
      partition: (topic, partition) => {
        const real = logs.partition(topic, partition);
        return {
          get logStartOffset() { return real.logStartOffset; },
          get logEndOffset() { return real.logEndOffset; },
          get highWatermark() { return real.highWatermark; },
          get segmentCount() { return real.segmentCount; },
          get sizeBytes() { return real.sizeBytes; },
          read: (offset, maxBytes) => real.read(offset, maxBytes),
          append: (batch, options) => (isFailing ? Promise.reject(new StorageFailedError('disk said no')) : real.append(batch, options)),
          deleteSegmentsBelow: (offset) => real.deleteSegmentsBelow(offset),
        };
      },
    };
    const registry = await SchemaRegistry.open(port, () => 1_000, silentLogger);
    await registry.register('s', avro(record('R')));
    isFailing = true;
    await expect(registry.register('s', avro(record('R', [{ name: 'a', type: 'int' }, { name: 'b', type: 'int', default: 1 }])))).rejects.toBeInstanceOf(StorageFailedError);
    expect(registry.listVersions('s')).toEqual([1]);
    isFailing = false;
    // An incompatible one is refused before anything is written.
    await expect(registry.register('s', avro(record('R', [{ name: 'a', type: 'string' }])))).rejects.toBeInstanceOf(IncompatibleSchemaError);
    expect((await registry.register('s', avro(record('R', [{ name: 'a', type: 'long' }])))).version).toBe(2);
    await registry.close();
  });
});
