import type * as grpc from '@grpc/grpc-js';
import { ShuttingDownError } from '../core/errors.js';
import { assertDecoded, withSafeDeserializers } from './safe-deserialize.js';
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
 *   result, so a client that sends and never reads would grow the server's memory without bound;
 * - a request that is not a valid protobuf message is INVALID_ARGUMENT, as for Strata's services
 *   (grpc-js answers INTERNAL, as if the server were at fault), and never reaches the library.
 */
export function withGuardedStreams(server: grpc.Server, streams: StreamRegistry): grpc.Server {
  const guarded = {
    addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
      const wrapped: grpc.UntypedServiceImplementation = { ...implementation };
      // Where grpc-js looks for a method's handler: its name, else its original (lower camel case) one.
      for (const [name, method] of Object.entries(service)) {
        const key = name in implementation || method.originalName === undefined ? name : method.originalName;
        const handler = implementation[key];
        if (!handler) continue;
        const guarded = method.responseStream ? guardStream(handler as (call: AnyCall) => void, method.requestStream, streams) : handler;
        wrapped[key] = refuseUndecodable(guarded, method);
      }
      server.addService(withSafeDeserializers(service), wrapped);
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

/**
 * Answers a request withSafeDeserializers could not decode with INVALID_ARGUMENT in place of the
 * handler: a unary call through its callback, a server stream by ending it; a stream of requests
 * ends at its first undecodable one, which the handler never sees.
 */
function refuseUndecodable(handler: grpc.UntypedHandleCall, method: grpc.MethodDefinition<unknown, unknown>): grpc.UntypedHandleCall {
  const refusal = (request: unknown): Partial<grpc.StatusObject> | undefined => {
    try {
      assertDecoded(request);
      return undefined;
    } catch (error) {
      return toServiceError(error);
    }
  };
  if (!method.requestStream && !method.responseStream) {
    return ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const refused = refusal(call.request);
      if (refused) return callback(refused);
      return (handler as grpc.handleUnaryCall<unknown, unknown>)(call, callback);
    }) as grpc.UntypedHandleCall;
  }
  if (!method.requestStream) {
    return ((call: grpc.ServerWritableStream<unknown, unknown>) => {
      const refused = refusal(call.request);
      if (refused) return void call.emit('error', refused);
      return (handler as grpc.handleServerStreamingCall<unknown, unknown>)(call);
    }) as grpc.UntypedHandleCall;
  }
  return ((call: grpc.ServerReadableStream<unknown, unknown> & Partial<Pick<grpc.ServerDuplexStream<unknown, unknown>, 'pause'>>, ...rest: unknown[]) => {
    // Requests reach a library's handler through 'data' events (however it listens): the first
    // undecodable one ends the stream instead, and no later one is delivered.
    const emit = call.emit.bind(call) as (event: string | symbol, ...args: unknown[]) => boolean;
    let isRefused = false;
    call.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event === 'data' && !isRefused) {
        const refused = refusal(args[0]);
        if (!refused) return emit(event, ...args);
        isRefused = true;
        call.pause?.();
        return emit('error', refused);
      }
      if (event === 'data') return false;
      return emit(event, ...args);
    }) as typeof call.emit;
    return (handler as (call: unknown, ...rest: unknown[]) => void)(call, ...rest);
  }) as grpc.UntypedHandleCall;
}
