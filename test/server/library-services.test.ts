import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { withGuardedStreams } from '../../src/server/library-services.js';
import { withSafeDeserializers } from '../../src/server/safe-deserialize.js';
import { StreamRegistry } from '../../src/server/stream-registry.js';

/** A server call as a library's handler sees it: write() answers what the test says. */
class FakeCall extends EventEmitter {
  isWritable = true;
  written: unknown[] = [];
  pauses = 0;
  resumes = 0;
  write(message: unknown): boolean {
    this.written.push(message);
    return this.isWritable;
  }
  pause(): void {
    this.pauses++;
  }
  resume(): void {
    this.resumes++;
  }
}

function method(requestStream: boolean, responseStream: boolean, originalName: string) {
  return { path: `/t.S/${originalName}`, requestStream, responseStream, originalName, requestSerialize: String, requestDeserialize: String, responseSerialize: Buffer.from, responseDeserialize: String };
}

const SERVICE = { Info: method(true, true, 'info'), Watch: method(false, true, 'watch'), Check: method(false, false, 'check') } as unknown as grpc.ServiceDefinition;

/** Adds `implementation` through the guard and returns the handlers grpc-js would have been given. */
function guarded(implementation: grpc.UntypedServiceImplementation, streams = new StreamRegistry()) {
  let added: grpc.UntypedServiceImplementation = {};
  const server = { addService: (_: grpc.ServiceDefinition, handlers: grpc.UntypedServiceImplementation) => (added = handlers) } as unknown as grpc.Server;
  withGuardedStreams(server, streams).addService(SERVICE, implementation);
  return { handlers: added as Record<string, (call: unknown, callback?: unknown) => void>, streams };
}

describe('withGuardedStreams (health and reflection handlers)', () => {
  it('stops reading a bidirectional stream while its answers are not flushed, and reads again on drain', () => {
    const info = (call: grpc.ServerDuplexStream<string, string>) => call.on('data', (m: string) => call.write(`answer to ${m}`));
    const { handlers } = guarded({ info });
    const call = new FakeCall();
    handlers.info!(call);
    call.emit('data', 'a');
    expect(call.pauses).toBe(0);
    call.isWritable = false;
    call.emit('data', 'b');
    call.emit('data', 'c');
    expect(call.pauses).toBe(1);
    call.isWritable = true;
    call.emit('drain');
    expect(call.resumes).toBe(1);
    expect(call.written).toEqual(['answer to a', 'answer to b', 'answer to c']);
    call.isWritable = false;
    call.emit('data', 'd');
    expect(call.pauses).toBe(2);
  });

  it('ends open streams with UNAVAILABLE at shutdown, and leaves alone the ones that ended', async () => {
    const { handlers, streams } = guarded({ info: () => undefined, watch: () => undefined });
    const open = new FakeCall();
    const cancelled = new FakeCall();
    handlers.info!(open);
    handlers.watch!(cancelled);
    cancelled.emit('cancelled');
    const errors: Array<{ code?: number }> = [];
    open.on('error', (error: { code?: number }) => errors.push(error));
    cancelled.on('error', () => errors.push({ code: -1 }));
    expect(streams.openStreamCount).toBe(1);
    await streams.closeAll(1_000);
    expect(errors).toEqual([expect.objectContaining({ code: grpc.status.UNAVAILABLE })]);
    // It reads no more, and what its handler writes after the end is dropped (no write after end).
    expect(open.pauses).toBe(1);
    open.write('late');
    expect(open.written).toEqual([]);
  });

  it('passes decodable unary calls to the handler as they are, and answers undecodable ones with INVALID_ARGUMENT', () => {
    const seen: unknown[][] = [];
    const check = (...args: unknown[]) => void seen.push(args);
    const { handlers } = guarded({ check });
    const call = { request: 'a request' };
    const callback = () => undefined;
    handlers.check!(call, callback);
    expect(seen).toEqual([[call, callback]]);
    expect(seen[0]![0]).toBe(call);
    // What withSafeDeserializers makes of bytes its decoder throws on.
    const undecodable = withSafeDeserializers({ M: { ...SERVICE.Check!, requestDeserialize: () => { throw new Error('invalid wire type 7'); } } } as unknown as grpc.ServiceDefinition).M!.requestDeserialize(Buffer.alloc(1));
    const answers: unknown[] = [];
    handlers.check!({ request: undecodable }, (error: unknown) => answers.push(error));
    expect(seen).toHaveLength(1);
    expect(answers).toEqual([expect.objectContaining({ code: grpc.status.INVALID_ARGUMENT, details: 'INVALID_ARGUMENT: the request is not a valid protobuf message: invalid wire type 7' })]);
  });
});
