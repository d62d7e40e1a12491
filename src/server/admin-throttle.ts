import * as grpc from '@grpc/grpc-js';
import { THROTTLE_TIME_METADATA_KEY } from '../quotas/principal-quotas.js';
import { principalOf } from './auth/auth-gate.js';
import { RPC_ACCESS_TABLE, type RpcAccess } from './auth/rpc-access-table.js';
import type { RateThrottle } from './rate-throttle.js';

/** Whether a method counts against admin_request_rate: an admin action (`audit` in the access table; quota and ACL writes are). */
export function isAdminMethod(path: string, table: Readonly<Record<string, RpcAccess>> = RPC_ACCESS_TABLE): boolean {
  return table[path]?.audit === true;
}

/**
 * admin_request_rate (principal-quotas.ts): every admin call counts one for its principal when it is
 * answered (done or failed: the work, or the attempt, was made); past the quota its status is held
 * back by the throttle time. Every admin call's trailers carry `strata-throttle-time-ms` (0 when it
 * was not held), so a client learns its back-off from the answer, as from Kafka's throttle_time_ms.
 *
 * A server interceptor placed after the auth gate in grpc-server.ts's array (grpc-js passes received
 * metadata through the interceptors in array order), so the principal the gate put in the metadata is
 * there; a call the gate refuses never reaches it (and is not counted: it did no admin work).
 * Non-admin methods pass untouched.
 */
export function createAdminThrottleInterceptor(throttle: RateThrottle, table: Readonly<Record<string, RpcAccess>> = RPC_ACCESS_TABLE): grpc.ServerInterceptor {
  return (methodDescriptor, call) => {
    // Every other call goes on as it came: no layer on the produce and read paths (grpc-js chains
    // interceptors by their interface, as auth-gate.ts relies on too).
    if (!isAdminMethod(methodDescriptor.path, table)) return call as grpc.ServerInterceptingCall;
    let principal: string | undefined;
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, metadataNext) => {
            principal = principalOf({ metadata });
            metadataNext(metadata);
          },
        }),
      sendStatus: (status, statusNext) => {
        const throttleTimeMs = principal === undefined ? 0 : throttle.rates.adminCall(principal);
        const metadata = status.metadata ?? new grpc.Metadata();
        metadata.set(THROTTLE_TIME_METADATA_KEY, String(throttleTimeMs));
        const held = { ...status, metadata };
        if (throttleTimeMs === 0) statusNext(held);
        else throttle.clock.setTimeout(() => statusNext(held), throttleTimeMs, { keepsProcessAlive: true });
      },
    });
  };
}
