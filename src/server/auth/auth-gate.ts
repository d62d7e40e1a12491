import * as grpc from '@grpc/grpc-js';
import type { AclAuthorizer, AuthorizationDecision, ResourceAccess } from '../../acls/acl-rules.js';
import { AuthenticationFailedError, PermissionDeniedError, type StrataError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { CALL_ID_METADATA_KEY } from '../../protocol/protocol.js';
import { callIdOf } from '../call-log.js';
import { toServiceError } from '../status.js';
import { type Authenticator, ANONYMOUS_PRINCIPAL } from './authenticator.js';
import { KeptDecisions } from './kept-decisions.js';
import { RPC_ACCESS_TABLE, type RpcAccess } from './rpc-access-table.js';

/**
 * The principals the gate established, by the call's metadata object (which the interceptors and the
 * handler share, as call-log.ts's call ids): nothing a client sends can name one.
 */
const principals = new WeakMap<grpc.Metadata, string>();

/**
 * The metadata key under which the gate also writes the principal of a call it authenticated (any
 * value a client sent under it is removed first). Read principalOf(call), never this key: a call the
 * gate does not intercept (every call but the audited admin actions when authentication is off)
 * carries whatever the client sent under it.
 */
export const PRINCIPAL_METADATA_KEY = 'strata-authenticated-principal';

/** The principal the gate established for a call (ANONYMOUS on a server without authentication). */
export function principalOf(call: { metadata: grpc.Metadata }): string {
  return principals.get(call.metadata) ?? ANONYMOUS_PRINCIPAL;
}

/** Request messages the gate let through only to be refused by their handler (RpcAccess.refusesPerRequest). */
const refusedMessages = new WeakMap<object, StrataError>();

/** The gate's refusal of this request message, which its handler answers with (a produce request's failure), or undefined. */
export function refusalOf(message: object): StrataError | undefined {
  return refusedMessages.get(message);
}

/** The principal the gate authenticated from these metadata, or undefined (no authentication, or an open call such as health). */
export function authenticatedPrincipalOf(metadata: grpc.Metadata): string | undefined {
  return principals.get(metadata);
}

const RESET_OFFSETS_PATH = '/strata.v1.AdminService/ResetOffsets';

/**
 * Authenticates and authorizes every call in one place: a grpc-js server interceptor beside the
 * admission gate's, so no handler runs, and no request reaches one, before it is allowed.
 *
 * - Metadata first: the credentials (authenticator.ts) give the principal, or the call ends with
 *   UNAUTHENTICATED (AUTHENTICATION_FAILED) before any request is read. Health is open.
 * - Then every request message, unary or streamed, is checked against the RPC's row of the access
 *   table (rpc-access-table.ts) before it is passed on: a denied one ends the call with
 *   PERMISSION_DENIED (PERMISSION_DENIED). The check comes before the handler looks anything up, so a
 *   principal without describe on a topic gets the same answer whether the topic exists or not.
 * - List answers are cut to what the principal may describe.
 * - Audit: every refusal, and every admin action with its outcome, is logged at info with the
 *   principal, method, resources and operations, and the call id (the one in the error trailer).
 *   An offset reset's `requested_by` is set to the authenticated principal, whatever the client sent.
 *
 * A method missing from the table is refused (PERMISSION_DENIED) when authentication is configured,
 * and allowed with a warning when it is not (the anonymous server keeps working while someone adds
 * the row; rpc-access-table.test.ts fails until they do).
 *
 * The hot path. A call the gate has nothing to do for is not intercepted at all: the interceptor
 * hands grpc-js the call it was given, so its messages pass no extra layer. Without authentication
 * (and authorization) that is every call but the audited admin actions, since nothing is refused and
 * lists are not cut; with it, the open health methods. A call that is intercepted keeps each
 * decision per (resource type, name, operation) for its life (kept-decisions.ts), so a produce
 * stream checks a topic's rules once and then costs a comparison with the last decision per request
 * (bench/security-bench.ts measures it: RESULTS "Security: ACL checks"); the decisions are dropped whenever the ACL
 * store's generation moves (any add or remove), so a changed rule applies from the stream's next
 * request, as it does to new calls.
 */
export class AuthGate {
  private readonly warnedMethods = new Set<string>();

  constructor(
    private readonly authenticator: Authenticator,
    private readonly authorizer: AclAuthorizer,
    private readonly logger: Logger,
    private readonly table: Readonly<Record<string, RpcAccess>> = RPC_ACCESS_TABLE,
  ) {}

  readonly interceptor: grpc.ServerInterceptor = (methodDescriptor, call) => {
    // grpc-js's type says a ServerInterceptingCall, but it chains interceptors by its interface
    // (server-interceptors.js: each gets the previous one's result), so the call itself may go on.
    const passThrough = call as grpc.ServerInterceptingCall;
    const path = methodDescriptor.path;
    const entry = this.table[path];
    if (!this.authenticator.isEnabled && !this.authorizer.isEnabled) {
      if (entry === undefined) {
        this.warnOfMissingRow(path);
        return passThrough;
      }
      // Nothing is refused and no list is cut: only admin actions are looked at (for the audit line).
      if (!entry.audit) return passThrough;
    } else if (entry?.isOpen && !entry.audit) {
      // Open methods (health) need no credentials and name no resource.
      return passThrough;
    }
    return this.intercepted(path, entry, call);
  };

  private warnOfMissingRow(path: string): void {
    if (this.warnedMethods.has(path)) return;
    this.warnedMethods.add(path);
    this.logger.warn({ method: path }, 'a method without a row in the access table (rpc-access-table.ts) is served: it would be refused with authentication on');
  }

  private intercepted(path: string, entry: RpcAccess | undefined, call: grpc.ServerInterceptingCallInterface): grpc.ServerInterceptingCall {
    let principal = ANONYMOUS_PRINCIPAL;
    let callId = '';
    let isRefused = false;
    const audited: ResourceAccess[] = [];
    const decisions = new KeptDecisions(this.authorizer, () => principal);
    const authorize = (access: ResourceAccess): AuthorizationDecision => decisions.authorize(access);
    const refuse = (error: StrataError, access?: ResourceAccess): void => {
      if (isRefused) return;
      isRefused = true;
      this.logger.info({ audit: 'denied', callId, principal, method: path, ...(access ?? {}), code: error.code, reason: error.message }, 'call refused');
      const status = toServiceError(error);
      status.metadata?.set(CALL_ID_METADATA_KEY, callId);
      call.sendStatus(status as grpc.StatusObject);
    };
    const filter = this.authorizer.isEnabled ? entry?.listFilter : undefined;
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, metadataNext) => {
            metadata.remove(PRINCIPAL_METADATA_KEY);
            callId = callIdOf({ metadata });
            if (entry === undefined) {
              if (this.authorizer.isEnabled) {
                refuse(new PermissionDeniedError(`${path} has no access rule on this server`));
                return;
              }
              this.warnOfMissingRow(path);
            }
            if (entry?.isOpen || !this.authenticator.isEnabled) {
              metadataNext(metadata);
              return;
            }
            const authorization = metadata.get('authorization')[0];
            const info = call.getConnectionInfo();
            const authContext = call.getAuthContext();
            this.authenticator
              .authenticate(typeof authorization === 'string' ? authorization : undefined, {
                remoteAddress: info.remoteAddress,
                isTls: authContext.transportSecurityType === 'ssl',
                peerCertificate: authContext.sslPeerCertificate,
              })
              .then(
                (authentication) => {
                  principal = authentication.principal;
                  principals.set(metadata, principal);
                  metadata.set(PRINCIPAL_METADATA_KEY, principal);
                  metadataNext(metadata);
                },
                (error: unknown) => refuse(error instanceof AuthenticationFailedError ? error : new AuthenticationFailedError('the credentials could not be checked', { cause: error })),
              );
          },
          onReceiveMessage: (message, messageNext) => {
            if (isRefused || entry === undefined) {
              if (!isRefused) messageNext(message);
              return;
            }
            // Without authorization nothing is refused: only admin actions are looked at (for the audit line).
            if (!this.authorizer.isEnabled && !entry.audit) {
              messageNext(message);
              return;
            }
            let accesses: ResourceAccess[];
            try {
              accesses = entry.accesses(message ?? {});
            } catch {
              accesses = [];
            }
            for (const access of accesses) {
              if (!authorize(access).isAllowed) {
                // The same words for a resource that exists and one that does not.
                const error = new PermissionDeniedError(`${principal} may not ${access.operation} ${access.resourceType.replace('_', ' ')} '${access.resourceName}'`);
                if (entry.refusesPerRequest && typeof message === 'object' && message !== null) {
                  this.logger.info({ audit: 'denied', callId, principal, method: path, ...access, code: error.code, reason: error.message }, 'request refused');
                  refusedMessages.set(message, error);
                  messageNext(message);
                  return;
                }
                refuse(error, access);
                return;
              }
            }
            if (entry.audit) audited.push(...accesses);
            if (path === RESET_OFFSETS_PATH && this.authenticator.isEnabled && message) message.requestedBy = principal;
            messageNext(message);
          },
        }),
      ...(filter && {
        sendMessage: (message, messageNext) => {
          if (message && Array.isArray(message[filter.field])) {
            const items = message[filter.field] as unknown[];
            messageNext({ ...message, [filter.field]: items.filter((item) => authorize({ resourceType: filter.resourceType, resourceName: filter.nameOf(item), operation: 'describe' }).isAllowed) });
            return;
          }
          messageNext(message);
        },
      }),
      sendStatus: (status, statusNext) => {
        if (entry?.audit && !isRefused && audited.length > 0) {
          const outcome = status.code === grpc.status.OK ? 'done' : grpc.status[status.code];
          this.logger.info({ audit: 'admin', callId, principal, method: path, resources: audited.map((a) => `${a.resourceType}:${a.resourceName}:${a.operation}`), outcome }, 'admin action');
        }
        statusNext(status);
      },
    });
  }
}
