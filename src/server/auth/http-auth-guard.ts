import type { TLSSocket } from 'node:tls';
import type { AclAuthorizer, ResourceAccess } from '../../acls/acl-rules.js';
import { CLUSTER_RESOURCE_NAME } from '../../acls/acl-rules.js';
import { AuthenticationFailedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { HttpError, type HttpGuard, type HttpRequest } from '../http/http-server.js';
import type { Authenticator } from './authenticator.js';

const principals = new WeakMap<object, string>();

/** The principal the guard authenticated for an HTTP request; undefined without authentication. */
export function httpPrincipalOf(raw: object): string | undefined {
  return principals.get(raw);
}

/** `isList`: a list route cut per item (request.mayDescribe), open to any authenticated principal as gRPC's lists are. */
type RouteAccess = { accesses(params: Readonly<Record<string, string>>): ResourceAccess[]; isOpen?: boolean; audit?: boolean; isList?: boolean };

const cluster = (operation: ResourceAccess['operation']): ResourceAccess => ({ resourceType: 'cluster', resourceName: CLUSTER_RESOURCE_NAME, operation });
const subject = (operation: ResourceAccess['operation']) => (p: Readonly<Record<string, string>>): ResourceAccess[] => [{ resourceType: 'schema_subject', resourceName: p.subject ?? '', operation }];
const topic = (operation: ResourceAccess['operation']) => (p: Readonly<Record<string, string>>): ResourceAccess[] => [{ resourceType: 'topic', resourceName: p.topic ?? '', operation }];

/**
 * What each route of the HTTP port needs, as rpc-access-table.ts for gRPC. Probes and the console's
 * static files are open; lists are cut to the items the principal may describe (as gRPC's lists are).
 * A route missing here is refused when authentication is on.
 */
export const HTTP_ROUTE_ACCESS_TABLE: Readonly<Record<string, RouteAccess>> = Object.freeze({
  'GET /healthz': { accesses: () => [], isOpen: true },
  'GET /readyz': { accesses: () => [], isOpen: true },
  'GET /': { accesses: () => [], isOpen: true },
  'GET /assets/:name': { accesses: () => [], isOpen: true },
  'GET /api/info': { accesses: () => [cluster('describe')] },
  'GET /api/topics': { accesses: () => [], isList: true },
  'GET /api/topics/:topic': { accesses: topic('describe') },
  'DELETE /api/topics/:topic': { accesses: topic('delete'), audit: true },
  'GET /api/topics/:topic/messages': { accesses: topic('read') },
  'GET /api/groups': { accesses: () => [], isList: true },
  'GET /api/groups/:group': { accesses: (p) => [{ resourceType: 'group', resourceName: p.group ?? '', operation: 'describe' }] },
  'POST /api/groups/:group/reset-offsets': { accesses: (p) => [{ resourceType: 'group', resourceName: p.group ?? '', operation: 'alter' }], audit: true },
  'DELETE /api/groups/:group': { accesses: (p) => [{ resourceType: 'group', resourceName: p.group ?? '', operation: 'delete' }], audit: true },
  'GET /api/queue-groups': { accesses: () => [], isList: true },
  'GET /api/queue-groups/:group': { accesses: (p) => [{ resourceType: 'queue_group', resourceName: p.group ?? '', operation: 'describe' }] },
  'DELETE /api/queue-groups/:group': { accesses: (p) => [{ resourceType: 'queue_group', resourceName: p.group ?? '', operation: 'delete' }], audit: true },
  'GET /api/dead-letters': { accesses: () => [], isList: true },
  'GET /api/dead-letters/:topic': { accesses: topic('read') },
  // A redrive writes to the topics its records came from, named inside the records: an operator's action on the cluster.
  'POST /api/dead-letters/:topic/redrive': { accesses: (p) => [...topic('read')(p), cluster('alter')], audit: true },
  'GET /metrics': { accesses: () => [cluster('describe')] },
  // The schema registry's REST API (Confluent's paths): as the SchemaService's rows in rpc-access-table.ts.
  'GET /schemas/types': { accesses: () => [] },
  'GET /schemas/ids/:id': { accesses: () => [] },
  'GET /schemas/ids/:id/schema': { accesses: () => [] },
  'GET /schemas/ids/:id/versions': { accesses: () => [], isList: true },
  'GET /subjects': { accesses: () => [], isList: true },
  'POST /subjects/:subject': { accesses: subject('read') },
  'DELETE /subjects/:subject': { accesses: subject('delete'), audit: true },
  'GET /subjects/:subject/versions': { accesses: subject('describe') },
  'POST /subjects/:subject/versions': { accesses: subject('write'), audit: true },
  'GET /subjects/:subject/versions/:version': { accesses: subject('read') },
  'GET /subjects/:subject/versions/:version/schema': { accesses: subject('read') },
  'GET /subjects/:subject/versions/:version/referencedby': { accesses: subject('describe') },
  'DELETE /subjects/:subject/versions/:version': { accesses: subject('delete'), audit: true },
  'POST /compatibility/subjects/:subject/versions/:version': { accesses: subject('read') },
  'POST /compatibility/subjects/:subject/versions': { accesses: subject('read') },
  'GET /config': { accesses: () => [cluster('describe')] },
  'PUT /config': { accesses: () => [cluster('alter')], audit: true },
  'GET /config/:subject': { accesses: subject('describe') },
  'PUT /config/:subject': { accesses: subject('alter'), audit: true },
  'DELETE /config/:subject': { accesses: subject('alter'), audit: true },
});

/**
 * The HTTP port's check, the same rules as the gRPC gate's: the principal from `Authorization:
 * Bearer TOKEN` (over TLS or from loopback only) or the client certificate's CN under mutual TLS; 401
 * without valid credentials, 403 for an access no rule allows (the same answer whether the named
 * resource exists or not); refusals and admin actions audited at info.
 */
export function httpAuthGuard(authenticator: Authenticator, authorizer: AclAuthorizer, logger: Logger, table: Readonly<Record<string, RouteAccess>> = HTTP_ROUTE_ACCESS_TABLE): HttpGuard {
  return async (route: string, request: HttpRequest) => {
    if (!authenticator.isEnabled) return;
    const row = table[route];
    if (row?.isOpen) return;
    const socket = request.raw.socket as Partial<TLSSocket>;
    const isTls = socket.encrypted === true;
    const header = request.raw.headers.authorization;
    let principal: string;
    try {
      ({ principal } = await authenticator.authenticate(typeof header === 'string' ? header : undefined, {
        remoteAddress: request.raw.socket.remoteAddress,
        isTls,
        peerCertificate: isTls && typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined,
      }));
    } catch (error) {
      const reason = error instanceof AuthenticationFailedError ? error.message : 'the credentials could not be checked';
      logger.info({ audit: 'denied', route, path: request.url.pathname, code: 'AUTHENTICATION_FAILED', reason }, 'http request refused');
      throw new HttpError(401, 'AUTHENTICATION_FAILED', reason);
    }
    principals.set(request.raw, principal);
    if (row === undefined) {
      logger.info({ audit: 'denied', principal, route, code: 'PERMISSION_DENIED' }, 'http request refused');
      throw new HttpError(403, 'PERMISSION_DENIED', `${route} has no access rule on this server`);
    }
    const accesses = row.accesses(request.params);
    for (const access of accesses) {
      if (!authorizer.authorize(principal, access).isAllowed) {
        logger.info({ audit: 'denied', principal, route, ...access, code: 'PERMISSION_DENIED' }, 'http request refused');
        throw new HttpError(403, 'PERMISSION_DENIED', `${principal} may not ${access.operation} ${access.resourceType.replace('_', ' ')} '${access.resourceName}'`);
      }
    }
    // For lists (isList) and for resources a handler reads from the body (the console's reset names its topic there).
    request.mayDescribe = (resourceType, resourceName) => authorizer.authorize(principal, { resourceType, resourceName, operation: 'describe' }).isAllowed;
    if (row.audit) logger.info({ audit: 'admin', principal, route, path: request.url.pathname, resources: accesses.map((a) => `${a.resourceType}:${a.resourceName}:${a.operation}`) }, 'admin action (http)');
  };
}
