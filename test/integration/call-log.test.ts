import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClientError } from '../../src/client/client-error.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { startServer, type RunningServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('failed calls in the server log, by call id', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: RunningServer;
  let client: StrataClient;
  const lines: LogLine[] = [];
  beforeAll(async () => {
    dir = await makeTempDir();
    server = await startServer(resolveServerConfig({ dataDir: dir.path, port: 0, host: '127.0.0.1' }), capturingLogger(lines, 'debug'));
    client = new StrataClient({ address: `127.0.0.1:${server.port}` });
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
    await dir.remove();
  });

  const failures = (callId: string) => lines.filter((line) => line.msg === 'call failed' && line.callId === callId);

  it('logs a failed unary call with its id, method and reason, and tells the client the id', async () => {
    const error = (await client.admin.describeTopic('missing').catch((e: unknown) => e)) as StrataClientError;
    expect(error).toBeInstanceOf(StrataClientError);
    expect(error.callId).toMatch(UUID);
    expect(failures(error.callId!)).toEqual([
      expect.objectContaining({ method: '/strata.v1.AdminService/DescribeTopic', status: 'NOT_FOUND', reason: 'TOPIC_NOT_FOUND', level: 20 }),
    ]);
  });

  it("takes the client's x-request-id as the call id, and a new one when it is not printable", async () => {
    const describe = (requestId: string) =>
      new Promise<grpc.ServiceError>((resolve) => {
        const metadata = new grpc.Metadata();
        metadata.set('x-request-id', requestId);
        client.stubs.admin.describeTopic({ topic: 'missing' }, metadata, (error) => resolve(error!));
      });
    const chosen = await describe('order-42/attempt-1');
    expect(chosen.metadata.get('strata-call-id')).toEqual(['order-42/attempt-1']);
    expect(failures('order-42/attempt-1')).toHaveLength(1);
    const refused = await describe('x'.repeat(129));
    expect(String(refused.metadata.get('strata-call-id')[0])).toMatch(UUID);
  });

  it('logs a failed stream the same way (a subscription to a missing topic)', async () => {
    const iterator = client.consume('missing', { from: 'earliest', shouldReconnect: false })[Symbol.asyncIterator]();
    const error = (await iterator.next().catch((e: unknown) => e)) as StrataClientError;
    expect(error.code).toBe('TOPIC_NOT_FOUND');
    expect(failures(error.callId!)).toEqual([expect.objectContaining({ method: '/strata.v1.ConsumeService/Subscribe', status: 'NOT_FOUND' })]);
  });
});
