import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../../src/generated/strata/v1/ProduceResponse.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const PRODUCER_ID = 4242;

/** A batch of producer PRODUCER_ID, epoch 0, of `count` records from sequence `baseSequence`. */
function batch(baseSequence: number, count: number): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({ key: 'k', value: `v${baseSequence + i}` }));
  return encodeRecordBatch(records, { producerId: PRODUCER_ID, producerEpoch: 0, baseSequence });
}

/** Sends one produce request on a fresh stream and returns the server's answer. */
async function produceOnce(address: string, records: Buffer): Promise<ProduceResponse__Output> {
  const client = new StrataClient({ address });
  try {
    const call = client.stubs.produce.produce() as grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output>;
    const response = new Promise<ProduceResponse__Output>((resolve, reject) => {
      call.once('data', resolve);
      call.once('error', reject);
    });
    call.write({ requestId: 1, topic: 'orders', partition: 0, records });
    const answer = await response;
    call.end();
    return answer;
  } finally {
    client.close();
  }
}

describe('a producer retrying across a server restart (SIGKILL)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess | undefined;
  beforeEach(async () => (dir = await makeTempDir()));
  afterEach(async () => {
    await server?.stop('SIGKILL');
    server = undefined;
    await dir.remove();
  });

  /** Two acknowledged batches (offsets 0-2 and 3-4), then the server is killed and started again. */
  async function writeThenKill(extraArgs: string[] = []): Promise<void> {
    server = await startServerProcess(dir.path, extraArgs);
    const client = new StrataClient({ address: server.address });
    try {
      await client.admin.createTopic('orders', { partitions: 1 });
    } finally {
      client.close();
    }
    expect(await produceOnce(server.address, batch(0, 3))).toMatchObject({ baseOffset: 0, lastOffset: 2, duplicate: false, failure: null });
    expect(await produceOnce(server.address, batch(3, 2))).toMatchObject({ baseOffset: 3, lastOffset: 4, duplicate: false, failure: null });
    expect((await server.stop('SIGKILL')).signal).toBe('SIGKILL');
    server = await startServerProcess(dir.path, extraArgs);
  }

  it('answers the retry of an acknowledged batch with its original offsets and writes nothing twice', async () => {
    await writeThenKill();
    // The acknowledgement of the second batch was lost with the connection: the producer resends it.
    expect(await produceOnce(server!.address, batch(3, 2))).toMatchObject({
      baseOffset: 3,
      lastOffset: 4,
      duplicate: true,
      durability: 'ACK_LEVEL_DURABLE',
      failure: null,
    });
    // The producer goes on where it was, without being told to start over.
    expect(await produceOnce(server!.address, batch(5, 1))).toMatchObject({ baseOffset: 5, lastOffset: 5, duplicate: false, failure: null });
    const client = new StrataClient({ address: server!.address });
    try {
      const description = await client.admin.describeTopic('orders');
      expect(Number(description.partitions[0]!.logEndOffset)).toBe(6);
    } finally {
      client.close();
    }
  }, 60_000);

  it('without the restore (producerStateTailBytes 0) the partition has forgotten the producer', async () => {
    const configDir = await makeTempDir();
    try {
      const configPath = join(configDir.path, 'server.json');
      await writeFile(configPath, JSON.stringify({ producerStateTailBytes: 0 }));
      await writeThenKill(['--config', configPath]);
      const answer = await produceOnce(server!.address, batch(3, 2));
      expect(answer.failure?.code).toBe('UNKNOWN_PRODUCER');
    } finally {
      await configDir.remove();
    }
  }, 60_000);
});
