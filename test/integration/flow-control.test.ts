import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAheadBytesFor } from '../../src/client/partition-lanes.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer, type RunningServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const TOTAL_BYTES = 32 * 1024 * 1024;
const RESPONSE_MAX_BYTES = 16 * 1024;

describe('subscription flow control', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: RunningServer;
  let fetchCount = 0;
  beforeAll(async () => {
    dir = await makeTempDir();
    server = await startServer(resolveServerConfig({ dataDir: dir.path, port: 0, httpPort: 0, host: '127.0.0.1' }), silentLogger);
    const fetch = server.broker.fetch.bind(server.broker);
    server.broker.fetch = (...args) => {
      fetchCount++;
      return fetch(...args);
    };
  });
  afterAll(async () => {
    await server?.close();
    await dir.remove();
  });

  it("stops reading the log while a consumer's loop stalls, and delivers everything once it pulls again", async () => {
    // A small HTTP/2 window, so that the server feels the paused client quickly.
    const client = new StrataClient({ address: `127.0.0.1:${server.port}`, channelOptions: { 'grpc-node.flow_control_window': 65_535 } });
    try {
      await client.admin.createTopic('flow', { partitions: 1, config: { flush: 'interval' } });
      const producer = client.producer({ batchBytes: 64 * 1024, maxBatchBytes: 256 * 1024 });
      const value = 'x'.repeat(1000);
      const sends = [];
      for (let bytes = 0; bytes < TOTAL_BYTES; bytes += value.length) sends.push(producer.send('flow', { value }));
      await Promise.all(sends);
      await producer.close();
      const recordCount = sends.length;

      // A consumer whose loop body stalls: it takes one record, then does not pull for a while.
      const records = client.consume('flow', { from: 'earliest', maxBytes: RESPONSE_MAX_BYTES })[Symbol.asyncIterator]();
      expect((await records.next()).value.offset).toBe(0);
      fetchCount = 0;
      // Deliberate: the stall being tested, long enough for an unbounded server to read far ahead.
      await new Promise((r) => setTimeout(r, 1500));
      const fetchesWhileStalled = fetchCount;
      // Unbounded, the server would read the whole log meanwhile: TOTAL_BYTES / RESPONSE_MAX_BYTES reads.
      const unboundedFetches = TOTAL_BYTES / RESPONSE_MAX_BYTES;
      expect(fetchesWhileStalled).toBeLessThan(unboundedFetches / 10);

      let lastOffset = 0;
      for (;;) {
        const next = await records.next();
        expect(next.done).toBe(false);
        expect(next.value.offset).toBe(lastOffset + 1);
        lastOffset = next.value.offset;
        if (lastOffset === recordCount - 1) break;
      }
      await records.return?.(undefined);
    } finally {
      client.close();
    }
  }, 120_000);
});

describe('subscription memory in the server', () => {
  const BUFFER_BYTES = 4 * 1024 * 1024;
  let dir: { path: string; remove: () => Promise<void> };
  let server: RunningServer;
  let fetchedBytes = 0;
  beforeAll(async () => {
    dir = await makeTempDir();
    server = await startServer(resolveServerConfig({ dataDir: dir.path, port: 0, httpPort: 0, host: '127.0.0.1', subscriptionBufferBytes: BUFFER_BYTES }), silentLogger);
    const fetch = server.broker.fetch.bind(server.broker);
    server.broker.fetch = async (...args) => {
      const result = await fetch(...args);
      fetchedBytes += result.batches.length;
      return result;
    };
  });
  afterAll(async () => {
    await server?.close();
    await dir.remove();
  });

  it('holds at most subscriptionBufferBytes for a stalled subscription, however many partitions it reads', async () => {
    const PARTITIONS = 64;
    const MAX_BYTES = 256 * 1024;
    const client = new StrataClient({ address: `127.0.0.1:${server.port}`, channelOptions: { 'grpc-node.flow_control_window': 65_535 } });
    try {
      await client.admin.createTopic('wide', { partitions: PARTITIONS, config: { flush: 'interval' } });
      const producer = client.producer({ batchBytes: 64 * 1024 });
      const value = 'w'.repeat(1000);
      // 1 MiB a partition: each partition's loop would read a response or more before the stream's
      // write() says it is full, 16 MiB or more in all.
      for (let partition = 0; partition < PARTITIONS; partition++) {
        await producer.sendBatch('wide', Array.from({ length: 1024 }, () => ({ value, partition })));
      }
      await producer.close();
      fetchedBytes = 0;
      // A consumer whose loop takes one record and then stalls.
      const records = client.consume('wide', { from: 'earliest', maxBytes: MAX_BYTES })[Symbol.asyncIterator]();
      expect((await records.next()).done).toBe(false);
      // Deliberate: the server has stopped reading once nothing more is fetched for three 300 ms looks.
      for (let settled = 0, last = -1; settled < 3; ) {
        await new Promise((r) => setTimeout(r, 300));
        settled = fetchedBytes === last ? settled + 1 : 0;
        last = fetchedBytes;
      }
      // What the server holds (the buffer, and one read past it at most) plus what the client reads
      // before it stops: consume()'s read-ahead (passed by the one response read last), the 16
      // responses grpc-js's stream buffers, and the HTTP/2 windows.
      expect(fetchedBytes).toBeLessThanOrEqual(BUFFER_BYTES + MAX_BYTES + readAheadBytesFor(MAX_BYTES) + MAX_BYTES + 16 * MAX_BYTES + 2 * 1024 * 1024);
      await records.return?.(undefined);
    } finally {
      client.close();
    }
  }, 120_000);
});
