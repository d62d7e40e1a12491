import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { TopicNotFoundError } from '../../src/core/errors.js';
import { FailedCallLogBudget, withCallLog } from '../../src/server/call-log.js';
import { toServiceError } from '../../src/server/status.js';
import { unary } from '../../src/server/unary.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';

describe('withCallLog', () => {
  it('logs what the server did wrong as an error', async () => {
    const lines: LogLine[] = [];
    const handlers = withCallLog(
      {
        Broken: unary(async () => {
          throw new TypeError('a bug');
        }),
      },
      capturingLogger(lines, 'debug'),
    );
    const call = { request: {}, metadata: new grpc.Metadata(), getPath: () => '/t.S/Broken' };
    const status = await new Promise<Partial<grpc.StatusObject>>((resolve) => (handlers.Broken as (c: unknown, cb: (e: Partial<grpc.StatusObject>) => void) => void)(call, resolve));
    expect(status.code).toBe(grpc.status.INTERNAL);
    expect(lines).toEqual([expect.objectContaining({ level: 50, status: 'INTERNAL', method: '/t.S/Broken', details: 'INTERNAL: a bug' })]);
    expect(status.metadata!.get('strata-call-id')[0]).toBe(lines[0]!.callId);
  });

  it('sees a stream fail before grpc-js sends the status, and adds the call id to it', () => {
    const lines: LogLine[] = [];
    const call = Object.assign(new EventEmitter(), { metadata: new grpc.Metadata(), getPath: () => '/t.S/Stream' });
    let sent: Partial<grpc.StatusObject> | undefined;
    // grpc-js's own listener, registered when it made the call: it sends the status it is given.
    call.on('error', (status: Partial<grpc.StatusObject>) => (sent = { ...status, metadata: status.metadata?.clone() }));
    const handlers = withCallLog({ Stream: (c: typeof call) => c.emit('error', toServiceError(new RangeError('boom'))) } as never, capturingLogger(lines, 'debug'));
    (handlers as Record<string, (c: unknown) => void>).Stream!(call);
    expect(sent!.metadata!.get('strata-call-id')).toHaveLength(1);
    expect(lines).toHaveLength(1);
  });

  const failingHandlers = (lines: LogLine[], budget?: FailedCallLogBudget) =>
    withCallLog(
      {
        Missing: unary(async () => {
          throw new TopicNotFoundError('nosuch');
        }),
      },
      capturingLogger(lines, 'info'),
      budget,
    ) as unknown as Record<string, (c: unknown, cb: (e: Partial<grpc.StatusObject>) => void) => void>;
  const failOnce = (handlers: ReturnType<typeof failingHandlers>) => {
    const call = { request: {}, metadata: new grpc.Metadata(), getPath: () => '/t.S/Missing' };
    return new Promise<Partial<grpc.StatusObject>>((resolve) => handlers.Missing!(call, resolve));
  };

  it('logs what the caller caused at info, the default level, with the call id its error trailer carries', async () => {
    const lines: LogLine[] = [];
    const status = await failOnce(failingHandlers(lines));
    expect(status.code).toBe(grpc.status.NOT_FOUND);
    expect(lines).toEqual([expect.objectContaining({ level: 30, msg: 'call failed', status: 'NOT_FOUND', reason: 'TOPIC_NOT_FOUND', method: '/t.S/Missing' })]);
    expect(lines[0]!.callId).toBe(status.metadata!.get('strata-call-id')[0]);
  });

  it('logs at most its budget of caller-caused failures a second at info, and says how many it left out', async () => {
    const lines: LogLine[] = [];
    const clock = new ManualClock();
    const handlers = failingHandlers(lines, new FailedCallLogBudget(clock, 3));
    for (let i = 0; i < 5; i++) await failOnce(handlers);
    expect(lines).toHaveLength(3);
    clock.advance(999);
    await failOnce(handlers);
    expect(lines).toHaveLength(3);
    clock.advance(1);
    await failOnce(handlers);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatchObject({ level: 30, leftOutBefore: 3, msg: 'call failed (3 failed calls before it were logged at debug only: more than 3 a second)' });
    await failOnce(handlers);
    expect(lines[4]).not.toHaveProperty('leftOutBefore');
  });
});
