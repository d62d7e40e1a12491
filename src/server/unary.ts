import type * as grpc from '@grpc/grpc-js';
import { assertDecoded } from './safe-deserialize.js';
import { toServiceError } from './status.js';

type UnaryCallback<T> = (error: Partial<grpc.StatusObject> | null, value?: T) => void;

/**
 * Runs a unary handler: an undecodable request is INVALID_ARGUMENT, the callback is called exactly
 * once, and any error becomes its gRPC status (with the `strata-error-code` trailer).
 */
export function unary<Req, Res>(handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>) {
  return (call: grpc.ServerUnaryCall<Req, Res>, callback: UnaryCallback<Res>): void => {
    Promise.resolve()
      .then(() => {
        assertDecoded(call.request);
        return handler(call.request, call);
      })
      .then(
        (response) => callback(null, response),
        (error: unknown) => callback(toServiceError(error)),
      );
  };
}
