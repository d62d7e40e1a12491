import type * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError } from '../core/errors.js';

const UNDECODABLE = Symbol('undecodable request');

interface Undecodable {
  [UNDECODABLE]: string;
}

/**
 * grpc-js answers a request it cannot decode with INTERNAL, as if the server were at fault. Wrapping
 * the service's deserializers turns garbage into a marker the handler sees, so the client gets
 * INVALID_ARGUMENT and the handler decides what happens to the rest of its stream.
 */
export function withSafeDeserializers<T extends grpc.ServiceDefinition>(definition: T): T {
  const wrapped: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    const m = method as grpc.MethodDefinition<unknown, unknown>;
    wrapped[name] = {
      ...m,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return m.requestDeserialize(bytes);
        } catch (error) {
          return { [UNDECODABLE]: (error as Error).message } satisfies Undecodable;
        }
      },
    };
  }
  return wrapped as unknown as T;
}

/** Throws InvalidArgumentError if the request could not be decoded. */
export function assertDecoded(request: unknown): void {
  if (typeof request === 'object' && request !== null && UNDECODABLE in request) {
    throw new InvalidArgumentError(`the request is not a valid protobuf message: ${(request as Undecodable)[UNDECODABLE]}`);
  }
}
