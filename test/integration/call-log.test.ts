import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { StrataClientError } from '../../src/client/client-error.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('failed calls in the server log, by call id', () => {
  const lines: LogLine[] = [];
  // At the server's default level: a call id a user quotes is found without turning on debug.
  const fx = useInProcessServer({}, capturingLogger(lines, 'info'));

  const failures = (callId: string) => lines.filter((line) => line.msg === 'call failed' && line.callId === callId);

  it('logs a failed unary call with its id, method and reason, and tells the client the id', async () => {
    const error = (await fx.client.admin.describeTopic('missing').catch((e: unknown) => e)) as StrataClientError;
    expect(error).toBeInstanceOf(StrataClientError);
    expect(error.callId).toMatch(UUID);
    expect(failures(error.callId!)).toEqual([
      expect.objectContaining({ method: '/strata.v1.AdminService/DescribeTopic', status: 'NOT_FOUND', reason: 'TOPIC_NOT_FOUND', level: 30 }),
    ]);
  });

  it("takes the client's x-request-id as the call id, and a new one when it is not printable", async () => {
    const describe = (requestId: string) =>
      new Promise<grpc.ServiceError>((resolve) => {
        const metadata = new grpc.Metadata();
        metadata.set('x-request-id', requestId);
        fx.client.stubs.admin.describeTopic({ topic: 'missing' }, metadata, (error) => resolve(error!));
      });
    const chosen = await describe('order-42/attempt-1');
    expect(chosen.metadata.get('strata-call-id')).toEqual(['order-42/attempt-1']);
    expect(failures('order-42/attempt-1')).toHaveLength(1);
    const refused = await describe('x'.repeat(129));
    expect(String(refused.metadata.get('strata-call-id')[0])).toMatch(UUID);
  });

  it('logs a failed stream the same way (a subscription to a missing topic)', async () => {
    const iterator = fx.client.consume('missing', { from: 'earliest', shouldReconnect: false })[Symbol.asyncIterator]();
    const error = (await iterator.next().catch((e: unknown) => e)) as StrataClientError;
    expect(error.code).toBe('TOPIC_NOT_FOUND');
    expect(failures(error.callId!)).toEqual([expect.objectContaining({ method: '/strata.v1.ConsumeService/Subscribe', status: 'NOT_FOUND' })]);
  });
});
