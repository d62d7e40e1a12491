import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { REQUEST_FIELDS_BYTES } from '../../src/core/limits.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { useTempDir } from '../helpers/temp-dir.js';

const MiB = 1024 * 1024;

/** The server's request limit and its topics' max.message.bytes agree: every batch a topic accepts can reach it. */
describe('batch limits of topics and the server request limit', () => {
  const dir = useTempDir();

  const start = (maxRequestBytes?: number, logger = silentLogger) =>
    startServer(resolveServerConfig({ dataDir: dir.path, port: 0, httpPort: 0, host: '127.0.0.1', ...(maxRequestBytes ? { maxRequestBytes } : {}) }), logger);

  it('refuses a topic whose batches would not fit in a request, and takes it once the server receives them', async () => {
    let server = await start();
    let client = new StrataClient({ address: `127.0.0.1:${server.port}` });
    try {
      const refused = await client.admin.createTopic('big', { partitions: 1, config: { 'max.message.bytes': String(4 * MiB) } }).catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'INVALID_CONFIG', grpcStatus: grpc.status.INVALID_ARGUMENT });
      expect((refused as Error).message).toMatch(/maxRequestBytes/);
      expect(await client.admin.listTopics()).toEqual([]);
    } finally {
      client.close();
      await server.close();
    }

    server = await start(4 * MiB + REQUEST_FIELDS_BYTES);
    client = new StrataClient({ address: `127.0.0.1:${server.port}` });
    try {
      await client.admin.createTopic('big', { partitions: 1, config: { 'max.message.bytes': String(4 * MiB) } });
      const producer = client.producer({ maxBatchBytes: 4 * MiB, maxRequestBytes: 4 * MiB, deliveryTimeoutMs: 10_000 });
      const value = Buffer.alloc(3 * MiB, 7);
      const metadata = await producer.send('big', { value });
      await producer.close();
      for await (const record of client.consume('big', { from: 'earliest', partitions: [0] })) {
        expect(record.offset).toBe(metadata.offset);
        expect(record.value!.equals(value)).toBe(true);
        break;
      }
    } finally {
      client.close();
      await server.close();
    }

    // Back on the default limit, the topic keeps its larger max.message.bytes: the server says so.
    const lines: LogLine[] = [];
    server = await start(undefined, capturingLogger(lines));
    await server.close();
    expect(lines.filter((line) => line.topic === 'big' && /maxRequestBytes/.test(line.msg))).toHaveLength(1);
  }, 60_000);

  it('reads back an acknowledged batch larger than the 16 MiB max_bytes of a read, with Fetch and Subscribe', async () => {
    const server = await start(24 * MiB + REQUEST_FIELDS_BYTES);
    const client = new StrataClient({ address: `127.0.0.1:${server.port}` });
    try {
      await client.admin.createTopic('huge', { partitions: 1, config: { 'max.message.bytes': String(24 * MiB) } });
      const producer = client.producer({ maxBatchBytes: 24 * MiB, batchBytes: 24 * MiB, maxRequestBytes: 24 * MiB, maxBufferedBytes: 48 * MiB, deliveryTimeoutMs: 30_000 });
      const value = Buffer.alloc(20 * MiB, 9);
      const metadata = await producer.send('huge', { key: 'k', value });
      await producer.close();
      const fetched = await new Promise<{ records: Buffer }>((resolve, reject) =>
        client.stubs.consume.fetch({ topic: 'huge', partition: 0, offset: 0, maxBytes: 16 * MiB }, (error, response) => (error ? reject(error) : resolve(response!))),
      );
      expect(fetched.records.length).toBeGreaterThan(20 * MiB);
      for await (const record of client.consume('huge', { from: 'earliest', partitions: [0], shouldReconnect: false })) {
        expect(record.offset).toBe(metadata.offset);
        expect(record.value!.equals(value)).toBe(true);
        break;
      }
    } finally {
      client.close();
      await server.close();
    }
  }, 60_000);
});
