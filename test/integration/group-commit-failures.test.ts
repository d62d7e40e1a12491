import { describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import type { CommitFailure } from '../../src/client/group-consumer-options.js';
import type { StrataError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('a group member whose server is gone', () => {
  it('tells onCommitFailed that the commit of close() failed, and which offsets it held', async () => {
    const dir = await makeTempDir();
    const server = await startServer(resolveServerConfig({ dataDir: dir.path, port: 0, httpPort: 0, host: '127.0.0.1' }), silentLogger);
    const client = new StrataClient({ address: `127.0.0.1:${server.port}`, callTimeoutMs: 5_000 });
    let isServerClosed = false;
    try {
      await client.admin.createTopic('gone', { partitions: 1 });
      const producer = client.producer();
      await producer.sendBatch('gone', [{ value: 'a' }, { value: 'b' }]);
      await producer.close();
      const failures: Array<[StrataError, CommitFailure]> = [];
      const consumer = client.consumer({
        groupId: 'gone-group',
        topics: ['gone'],
        fromBeginning: true,
        autoCommitIntervalMs: 600_000,
        leaveTimeoutMs: 200,
        logger: { warn: () => undefined },
        onCommitFailed: (error, failure) => void failures.push([error, failure]),
      });
      const iterator = consumer[Symbol.asyncIterator]();
      expect((await iterator.next()).value).toMatchObject({ offset: 0 });
      // Both records came in one batch: the second is handed from the buffer, the first is processed.
      expect((await iterator.next()).value).toMatchObject({ offset: 1 });
      await server.close();
      isServerClosed = true;
      await consumer.close();
      expect(failures).toHaveLength(1);
      const [error, failure] = failures[0]!;
      expect(failure).toEqual({ trigger: 'close', offsets: [{ topic: 'gone', partition: 0, offset: 1 }] });
      expect(['UNAVAILABLE', 'SHUTTING_DOWN']).toContain(error.code);
      expect(error.retriable).toBe(true);
    } finally {
      client.close();
      if (!isServerClosed) await server.close();
      await dir.remove();
    }
  });
});
