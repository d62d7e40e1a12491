import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    server = await startServer(resolveServerConfig({ dataDir: dir.path, port: 0, host: '127.0.0.1' }), silentLogger);
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
