import * as grpc from '@grpc/grpc-js';

/** A token, or a function that gives the current one (called for every call, so a refreshed token is used from the next call on). */
export type BearerTokenSource = string | (() => string | Promise<string>);

/**
 * A client interceptor that sends `authorization: Bearer TOKEN` with every call. A provider that
 * throws, or gives an empty token, sends the call without one: the server answers UNAUTHENTICATED,
 * which the caller sees as the call's error.
 */
export function bearerTokenInterceptor(source: BearerTokenSource): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        Promise.resolve()
          .then(() => (typeof source === 'function' ? source() : source))
          .then(
            (token) => {
              if (typeof token === 'string' && token !== '') metadata.set('authorization', `Bearer ${token}`);
              next(metadata, listener);
            },
            () => next(metadata, listener),
          );
      },
    });
}
