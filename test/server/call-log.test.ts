import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { withCallLog } from '../../src/server/call-log.js';
import { toServiceError } from '../../src/server/status.js';
import { unary } from '../../src/server/unary.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';

describe('withCallLog', () => {
  it('logs what the server did wrong as an error, and what the caller did as debug', async () => {
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
});
