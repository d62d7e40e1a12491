import * as grpc from '@grpc/grpc-js';

/** A token, or a function that gives the current one (called for every call, so a refreshed token is used from the next call on). */
export type BearerTokenSource = string | (() => string | Promise<string>);

/**
 * A client interceptor that sends `authorization: Bearer TOKEN` with every call. An empty token sends
 * the call without one (the server answers UNAUTHENTICATED). A provider that throws or rejects ends
 * the call on the client with UNAUTHENTICATED and the provider's message, without reaching the server:
 * the caller sees why it had no credentials, not only that it had none.
 */
export function bearerTokenInterceptor(source: BearerTokenSource): grpc.Interceptor {
  return (options, nextCall) => {
    const call = nextCall(options);
    return new grpc.InterceptingCall(call, {
      start: (metadata, listener, next) => {
        Promise.resolve()
          .then(() => (typeof source === 'function' ? source() : source))
          .then(
            (token) => {
              if (typeof token === 'string' && token !== '') metadata.set('authorization', `Bearer ${token}`);
              next(metadata, listener);
            },
            (error: unknown) => {
              next(metadata, listener);
              call.cancelWithStatus(grpc.status.UNAUTHENTICATED, `the token provider failed: ${error instanceof Error ? error.message : String(error)}`);
            },
          );
      },
    });
  };
}
