import * as grpc from '@grpc/grpc-js';
import type { AclAuthorizer, ResourceAccess } from '../../acls/acl-rules.js';
import { AuthenticationFailedError, PermissionDeniedError, type StrataError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { CALL_ID_METADATA_KEY } from '../../protocol/protocol.js';
import { callIdOf } from '../call-log.js';
import { toServiceError } from '../status.js';
import { type Authenticator, ANONYMOUS_PRINCIPAL } from './authenticator.js';
import { RPC_ACCESS_TABLE, type RpcAccess } from './rpc-access-table.js';

/**
 * The metadata key under which the gate hands a call's authenticated principal to its handler. Any
 * value a client sends under it is removed first, so a handler can trust what it reads there.
 */
export const PRINCIPAL_METADATA_KEY = 'strata-authenticated-principal';

/** The principal the gate established for a call (ANONYMOUS on a server without authentication). */
export function principalOf(call: { metadata: grpc.Metadata }): string {
  const value = call.metadata.get(PRINCIPAL_METADATA_KEY)[0];
  return typeof value === 'string' ? value : ANONYMOUS_PRINCIPAL;
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
    const path = methodDescriptor.path;
    const entry = this.table[path];
    let principal = ANONYMOUS_PRINCIPAL;
    let callId = '';
    let isRefused = false;
    const audited: ResourceAccess[] = [];
    const refuse = (error: StrataError, access?: ResourceAccess): void => {
      if (isRefused) return;
      isRefused = true;
      this.logger.info({ audit: 'denied', callId, principal, method: path, ...(access ?? {}), code: error.code, reason: error.message }, 'call refused');
      const status = toServiceError(error);
      status.metadata?.set(CALL_ID_METADATA_KEY, callId);
      call.sendStatus(status as grpc.StatusObject);
    };
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, metadataNext) => {
            // A client cannot name its own principal.
            metadata.remove(PRINCIPAL_METADATA_KEY);
            callId = callIdOf({ metadata });
            if (entry === undefined) {
              if (this.authorizer.isEnabled) {
                refuse(new PermissionDeniedError(`${path} has no access rule on this server`));
                return;
              }
              if (!this.warnedMethods.has(path)) {
                this.warnedMethods.add(path);
                this.logger.warn({ method: path }, 'a method without a row in the access table (rpc-access-table.ts) is served: it would be refused with authentication on');
              }
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
            // Without authentication nothing is refused: only admin actions are looked at (for the audit line).
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
              const decision = this.authorizer.authorize(principal, access);
              if (!decision.isAllowed) {
                // The same words for a resource that exists and one that does not.
                refuse(new PermissionDeniedError(`${principal} may not ${access.operation} ${access.resourceType.replace('_', ' ')} '${access.resourceName}'`), access);
                return;
              }
            }
            if (entry.audit) audited.push(...accesses);
            if (path === RESET_OFFSETS_PATH && this.authenticator.isEnabled && message) message.requestedBy = principal;
            messageNext(message);
          },
        }),
      sendMessage: (message, messageNext) => {
        const filter = entry?.listFilter;
        if (filter && this.authorizer.isEnabled && message && Array.isArray(message[filter.field])) {
          const items = message[filter.field] as unknown[];
          messageNext({ ...message, [filter.field]: items.filter((item) => this.authorizer.authorize(principal, { resourceType: filter.resourceType, resourceName: filter.nameOf(item), operation: 'describe' }).isAllowed) });
          return;
        }
        messageNext(message);
      },
      sendStatus: (status, statusNext) => {
        if (entry?.audit && !isRefused && audited.length > 0) {
          const outcome = status.code === grpc.status.OK ? 'done' : grpc.status[status.code];
          this.logger.info({ audit: 'admin', callId, principal, method: path, resources: audited.map((a) => `${a.resourceType}:${a.resourceName}:${a.operation}`), outcome }, 'admin action');
        }
        statusNext(status);
      },
    });
  };
}
