import type * as grpc from '@grpc/grpc-js';
import { ShuttingDownError } from '../core/errors.js';
import { toServiceError } from './status.js';
import type { StreamRegistry } from './stream-registry.js';

type AnyCall = grpc.ServerWritableStream<unknown, unknown> & Partial<Pick<grpc.ServerDuplexStream<unknown, unknown>, 'pause' | 'resume'>>;

/**
 * What a library's `addToServer(server)` needs of the server. The health and reflection services
 * come from packages that add their own handlers; through this, their streams (health Watch,
 * reflection's bidirectional stream) are held to the rules of Strata's own:
 * - a shutdown ends them with UNAVAILABLE (grpc-js `tryShutdown()` would wait for them until the grace
 *   ran out, and the forced shutdown then ends them with CANCELLED);
 * - a bidirectional stream stops reading requests while its answers are not flushed: reflection
 *   writes an answer (often kilobytes of descriptors) per request without looking at write()'s
 *   result, so a client that sends and never reads would grow the server's memory without bound.
 */
export function withGuardedStreams(server: grpc.Server, streams: StreamRegistry): grpc.Server {
  const guarded = {
    addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
      const wrapped: grpc.UntypedServiceImplementation = { ...implementation };
      // Where grpc-js looks for a method's handler: its name, else its original (lower camel case) one.
      for (const [name, method] of Object.entries(service)) {
        const key = name in implementation || method.originalName === undefined ? name : method.originalName;
        const handler = implementation[key];
        if (handler && method.responseStream) wrapped[key] = guardStream(handler as (call: AnyCall) => void, method.requestStream, streams);
      }
      server.addService(service, wrapped);
    },
  };
  return guarded as unknown as grpc.Server;
}

function guardStream(handler: (call: AnyCall) => void, isBidirectional: boolean, streams: StreamRegistry): (call: AnyCall) => void {
  return (call) => {
    let isEnded = false;
    const unregister = streams.register(async () => {
      if (isEnded) return;
      isEnded = true;
      // Read no more requests: reflection would answer them on an ended stream.
      call.pause?.();
      call.emit('error', toServiceError(new ShuttingDownError('the server is shutting down')));
    });
    const onEnded = () => {
      isEnded = true;
      unregister();
    };
    call.on('cancelled', onEnded);
    call.on('error', onEnded);
    call.on('finish', onEnded);
    const write = call.write.bind(call) as (...args: unknown[]) => boolean;
    let isPaused = false;
    call.write = ((...args: unknown[]) => {
      // A handler writing after the stream ended (a health status at shutdown) is dropped, not a
      // write-after-end error that destroys the stream before its status is sent.
      if (isEnded) return false;
      const isWritable = write(...args);
      if (!isWritable && isBidirectional && call.pause && call.resume && !isPaused) {
        isPaused = true;
        call.pause();
        call.once('drain', () => {
          isPaused = false;
          if (!isEnded) call.resume!();
        });
      }
      return isWritable;
    }) as typeof call.write;
    handler(call);
  };
}
