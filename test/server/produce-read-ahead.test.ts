import { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
// The class grpc-js makes every bidirectional server call from (not exported from the package root).
import { ServerDuplexStreamImpl } from '@grpc/grpc-js/build/src/server-call.js';
import { describe, expect, it } from 'vitest';
import { limitReadAhead } from '../../src/server/produce-service.js';

describe('the read-ahead of a paused produce stream', () => {
  it("lowers grpc-js's server call read-ahead from 16 messages to 1 (the internals it reaches are still there)", async () => {
    let readCount = 0;
    const call = new ServerDuplexStreamImpl('/strata.v1.ProduceService/Produce', { startRead: () => readCount++ } as never, new grpc.Metadata());
    expect(call.readableHighWaterMark).toBe(16);
    expect(limitReadAhead(call)).toBe(true);
    expect(call.readableHighWaterMark).toBe(1);
    // Paused with one message buffered, the stream asks grpc-js for no more (with 16 it would ask again).
    call.pause();
    const readsBefore = readCount;
    call.push({ requestId: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(call.readableLength).toBe(1);
    expect(readCount).toBe(readsBefore);
  });

  it('reports false for an object without a readable state, true for any Node stream', () => {
    expect(limitReadAhead({})).toBe(false);
    const stream = new Duplex({ objectMode: true, read() {}, write(_c, _e, cb) { cb(); } });
    expect(limitReadAhead(stream)).toBe(true);
  });
});
