import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataLossError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { startServer, type RunningServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const batch = (baseSequence: number) => encodeRecordBatch([{ key: 'k', value: `v${baseSequence}` }], { producerId: 77, producerEpoch: 0, baseSequence });

describe('producer state restore over a damaged log tail', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: RunningServer | undefined;
  beforeEach(async () => (dir = await makeTempDir()));
  afterEach(async () => {
    await server?.close();
    await dir.remove();
  });

  it('a batch that fails its CRC at the end of a cleanly closed log does not stop the server from starting', async () => {
    const config = resolveServerConfig({ dataDir: dir.path, port: 0, httpPort: 0, host: '127.0.0.1' });
    server = await startServer(config, silentLogger);
    await server.logManager.createTopic('damaged', 1);
    await server.logManager.createTopic('healthy', 1);
    for (let sequence = 0; sequence < 5; sequence++) {
      await server.broker.produce('damaged', 0, batch(sequence), 'durable');
      await server.broker.produce('healthy', 0, batch(sequence), 'durable');
    }
    await server.close();
    server = undefined;

    // A clean shutdown: the next start trusts the segments and checks CRCs on first read only.
    const partitionDir = join(dir.path, 'damaged', '0');
    const logFile = (await readdir(partitionDir)).find((name) => name.endsWith('.log'))!;
    const file = await open(join(partitionDir, logFile), 'r+');
    try {
      const { size } = await file.stat();
      const last = Buffer.alloc(1);
      await file.read(last, 0, 1, size - 1);
      last[0] = last[0]! ^ 0xff;
      await file.write(last, 0, 1, size - 1);
    } finally {
      await file.close();
    }

    server = await startServer(config, silentLogger);
    // The healthy partition kept its producer: a retry is a duplicate, the next batch follows.
    expect(await server.broker.produce('healthy', 0, batch(4), 'durable')).toMatchObject({ baseOffset: 4, isDuplicate: true });
    expect(await server.broker.produce('healthy', 0, batch(5), 'durable')).toMatchObject({ baseOffset: 5, isDuplicate: false });
    // The damaged one is refused from the start: the start checks the CRC of each segment's last batch
    // (nothing after it confirms its length), and a cleanly closed segment is never cut as a torn tail.
    await expect(server.broker.produce('damaged', 0, batch(5), 'durable')).rejects.toThrow(DataLossError);
    expect(() => server!.logManager.partition('damaged', 0)).toThrow(DataLossError);
    expect(server.logManager.describeTopic('damaged').partitions[0]!.status).toBe('data-loss');
  }, 30_000);
});
