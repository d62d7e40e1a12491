import type { Http2Session } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { StrataError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { CountQuotas } from '../quotas/count-quotas.js';
import { authenticatedPrincipalOf } from './auth/auth-gate.js';
import { onEachConnection } from './admission-gate.js';
import { ANONYMOUS_PRINCIPAL } from './auth/authenticator.js';
import { toServiceError } from './status.js';

interface Connection {
  readonly session: Http2Session;
  /** The principal it counts for (max_connections), once a call established one. */
  principal: string | undefined;
  /** Set when binding it to its principal was refused: every call on it is refused, then it is closed. */
  refusal: StrataError | undefined;
}

export interface CountQuotaGateOptions {
  /** Whether the server authenticates: without, every call is ANONYMOUS (one principal for the whole server). */
  isAuthenticationEnabled: boolean;
}

/**
 * Enforces max_connections and max_streams per principal (quotas/count-quotas.ts), as the admission
 * gate enforces its caps per client address: a grpc-js server interceptor that reads the principal the
 * auth gate put in the call's metadata (a call the auth gate refused never reaches it), refusing with QUOTA_EXCEEDED
 * (RESOURCE_EXHAUSTED) before the handler runs or the request is read.
 *
 * - A connection counts for the principal of its first call that has one: under mutual TLS the client
 *   certificate's subject CN (what the handshake proved, whatever tokens its calls carry), else the
 *   first authenticated call's principal (ANONYMOUS on a server without authentication). A connection
 *   whose principal already has max_connections open is refused: that call and every later one on it
 *   end with QUOTA_EXCEEDED, and it is closed (gracefully) after the first refusal, as the admission
 *   gate closes an over-cap address's connection. Its count is released when it closes.
 * - Every streaming call (any RPC with a request or response stream) counts for its own principal
 *   until it ends (status sent or cancelled); the one over max_streams is refused.
 * - A call without a principal under authentication (health, which is open) counts for nobody: the
 *   admission gate's per-address caps bound those.
 *
 * Connections are seen through grpc-js's private `http2Servers` map, as admission-gate.ts does: if
 * that is out of reach (a grpc-js upgrade), watchConnections returns false and only max_streams holds.
 */
export class CountQuotaGate {
  private readonly connections = new Map<string, Connection>();

  constructor(
    private readonly quotas: CountQuotas,
    private readonly options: CountQuotaGateOptions,
    private readonly logger: Logger,
  ) {}

  /**
   * For `new grpc.Server({ interceptors })`, AFTER the auth gate in the array: grpc-js passes incoming
   * metadata through the interceptors in array order (the first wraps the call itself, the last is
   * the handler's side), so only after the auth gate does the metadata carry the principal.
   */
  readonly interceptor: grpc.ServerInterceptor = (method, call) => {
    const isStream = method.requestStream || method.responseStream;
    let streamPrincipal: string | undefined;
    let isEnded = false;
    const end = () => {
      if (isEnded) return;
      isEnded = true;
      if (streamPrincipal !== undefined) this.quotas.release('max_streams', streamPrincipal);
    };
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, metadataNext) => {
            const principal = this.principalIn(metadata);
            if (principal === undefined || isEnded) {
              metadataNext(metadata);
              return;
            }
            const info = call.getConnectionInfo();
            const connection = this.connections.get(connectionKey(info.remoteAddress, info.remotePort));
            let refusal = connection ? this.bind(connection, principal, call) : undefined;
            if (refusal === undefined && isStream) {
              try {
                this.quotas.acquire('max_streams', principal);
                streamPrincipal = principal;
              } catch (error) {
                refusal = error as StrataError;
              }
            }
            if (refusal !== undefined) {
              isEnded = true;
              this.logger.debug({ principal, method: method.path, code: refusal.code, reason: refusal.message }, 'refused by a count quota');
              call.sendStatus(toServiceError(refusal) as grpc.StatusObject);
              if (connection?.refusal !== undefined) connection.session.close();
              return;
            }
            metadataNext(metadata);
          },
          onCancel: end,
        }),
      sendStatus: (status, statusNext) => {
        end();
        statusNext(status);
      },
    });
  };

  /** Tracks connections so each counts for its principal until it closes; false if grpc-js's servers are out of reach. */
  watchConnections(server: grpc.Server): boolean {
    return onEachConnection(server, (session) => this.track(session));
  }

  /** Open connections that count for `principal` (for tests). */
  connectionCount(principal: string): number {
    return this.quotas.heldBy('max_connections', principal);
  }

  private track(session: Http2Session): void {
    const socket = session.socket;
    if (session.destroyed || socket === undefined || socket.remoteAddress === undefined) return;
    const key = connectionKey(socket.remoteAddress, socket.remotePort);
    const connection: Connection = { session, principal: undefined, refusal: undefined };
    this.connections.set(key, connection);
    session.once('close', () => {
      if (this.connections.get(key) === connection) this.connections.delete(key);
      if (connection.principal !== undefined) this.quotas.release('max_connections', connection.principal);
    });
  }

  /** Counts the connection for its principal on its first call with one; the refusal if that is one too many. */
  private bind(connection: Connection, callPrincipal: string, call: grpc.ServerInterceptingCallInterface): StrataError | undefined {
    if (connection.refusal !== undefined || connection.principal !== undefined) return connection.refusal;
    const principal = this.certificatePrincipal(call) ?? callPrincipal;
    try {
      this.quotas.acquire('max_connections', principal);
    } catch (error) {
      connection.refusal = error as StrataError;
      return connection.refusal;
    }
    if (connection.session.destroyed) {
      // Gone between its call arriving and now: its close listener has run already.
      this.quotas.release('max_connections', principal);
      return undefined;
    }
    connection.principal = principal;
    return undefined;
  }

  /** Under mutual TLS, the connection is the certificate's subject's, as the authenticator names it. */
  private certificatePrincipal(call: grpc.ServerInterceptingCallInterface): string | undefined {
    if (!this.options.isAuthenticationEnabled) return undefined;
    const commonName = call.getAuthContext().sslPeerCertificate?.subject?.CN;
    const principal = Array.isArray(commonName) ? commonName[0] : commonName;
    return typeof principal === 'string' && principal !== '' ? principal : undefined;
  }

  private principalIn(metadata: grpc.Metadata): string | undefined {
    // Never a metadata key: without authentication nothing strips what a client sends under it.
    if (!this.options.isAuthenticationEnabled) return ANONYMOUS_PRINCIPAL;
    return authenticatedPrincipalOf(metadata);
  }
}

function connectionKey(remoteAddress: string | undefined, remotePort: number | undefined): string {
  return `${remoteAddress ?? 'unknown'}|${remotePort ?? 0}`;
}
