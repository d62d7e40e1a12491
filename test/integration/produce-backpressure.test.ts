import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProduceResult } from '../../src/broker/broker.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { MAX_IN_FLIGHT_REQUESTS_PER_STREAM } from '../../src/core/limits.js';
import { silentLogger } from '../../src/core/logger.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../../src/generated/strata/v1/ProduceResponse.js';
import { startServer, type RunningServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { eventually } from '../helpers/eventually.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** Far more requests than the server may hold, and (at 1 KiB each) more bytes than the HTTP/2 windows. */
const REQUEST_COUNT = 12_000;
const VALUE = Buffer.alloc(1000, 'v');

describe('produce stream back-pressure (with the raised HTTP/2 windows)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: RunningServer;
  beforeAll(async () => {
    dir = await makeTempDir();
    server = await startServer(resolveServerConfig({ dataDir: dir.path, port: 0, httpPort: 0, host: '127.0.0.1' }), silentLogger);
  });
  afterAll(async () => {
    await server?.close();
    await dir.remove();
  });

  it('stops reading a stream whose appends do not finish, holds at most the in-flight bound, and loses nothing after', async () => {
    // The appends stall: the broker holds every request it is handed until released.
    const realProduce = server.broker.produce.bind(server.broker);
    const held: Array<{ args: Parameters<Broker['produce']>; settle: (result: Promise<ProduceResult>) => void }> = [];
    let isStalled = true;
    server.broker.produce = (...args) => {
      if (!isStalled) return realProduce(...args);
      return new Promise<ProduceResult>((resolve) => held.push({ args, settle: resolve }));
    };

    const client = new StrataClient({ address: `127.0.0.1:${server.port}` });
    try {
      await client.admin.createTopic('flood', { partitions: 1, config: { flush: 'interval' } });
      const call = client.stubs.produce.produce() as grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output>;
      const responses: ProduceResponse__Output[] = [];
      const allAnswered = new Promise<void>((resolve, reject) => {
        call.on('data', (response: ProduceResponse__Output) => {
          responses.push(response);
          if (responses.length === REQUEST_COUNT) resolve();
        });
        call.on('error', reject);
      });
      // A client that writes as fast as grpc-js lets it (honouring write() and 'drain').
      let written = 0;
      const writeAll = new Promise<void>((resolve) => {
        const pump = () => {
          while (written < REQUEST_COUNT) {
            const ok = call.write({ requestId: written + 1, topic: 'flood', partition: 0, records: encodeRecordBatch([{ key: null, value: VALUE }]) });
            written++;
            if (!ok) return void call.once('drain', pump);
          }
          resolve();
        };
        pump();
      });

      // While the appends stall, the server takes exactly the in-flight bound and then stops reading.
      await eventually(() => held.length >= MAX_IN_FLIGHT_REQUESTS_PER_STREAM, { what: 'the server to hold the in-flight bound of requests' });
      // Deliberate: for half a second, the server takes no request past the bound.
      await new Promise((r) => setTimeout(r, 500));
      expect(held.length).toBe(MAX_IN_FLIGHT_REQUESTS_PER_STREAM);
      // HTTP/2 flow control pushed back on the client: it could not write everything.
      expect(written).toBeLessThan(REQUEST_COUNT);

      // Released in arrival order (the order the broker saw them), everything is written and answered.
      isStalled = false;
      for (const { args, settle } of held.splice(0)) settle(realProduce(...args));
      await writeAll;
      call.end();
      await allAnswered;
      expect(responses.every((r) => r.failure === null)).toBe(true);
      // In the order written: request n got offset n - 1.
      expect(responses.filter((r) => Number(r.baseOffset) !== r.requestId - 1)).toEqual([]);
      expect(new Set(responses.map((r) => r.requestId)).size).toBe(REQUEST_COUNT);
      const description = await client.admin.describeTopic('flood');
      expect(Number(description.partitions[0]!.logEndOffset)).toBe(REQUEST_COUNT);
    } finally {
      server.broker.produce = realProduce;
      client.close();
    }
  }, 60_000);
});

type Broker = RunningServer['broker'];
