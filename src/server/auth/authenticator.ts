import type { PeerCertificate } from 'node:tls';
import { AuthenticationFailedError } from '../../core/errors.js';
import { JwtVerifier } from './jwt-verifier.js';
import type { StaticTokens } from './static-tokens.js';

/** The principal of a server without authentication: every call is this, and everything is allowed. */
export const ANONYMOUS_PRINCIPAL = 'ANONYMOUS';

/** What the transport says about a call's peer. */
export interface PeerInfo {
  /** The peer's IP address as the socket reports it. */
  remoteAddress: string | undefined;
  /** Whether the connection is TLS. */
  isTls: boolean;
  /** The client certificate under mutual TLS (verified by the handshake against the client CA). */
  peerCertificate: PeerCertificate | undefined;
}

export interface AuthenticatorOptions {
  staticTokens?: StaticTokens;
  jwt?: JwtVerifier;
  /** Mutual TLS is configured: a client certificate's subject CN is a principal. */
  isMutualTls: boolean;
  /** Whether a peer address is this machine (tokens are accepted in plaintext only from it). Tests inject one. */
  isLoopbackPeer?: (remoteAddress: string | undefined) => boolean;
}

export interface Authentication {
  principal: string;
  /** How the principal was established, for the audit line. */
  method: 'anonymous' | 'mtls' | 'token' | 'jwt';
}

/**
 * Establishes who a call is from, from its credentials:
 * - a bearer token (`authorization: Bearer TOKEN`): a static token of the token file, else (when
 *   JWTs are configured and the token has a JWT's shape) a JWT. A token is accepted only over TLS or
 *   from a loopback peer: in plaintext across a network anyone on the path could take and replay it.
 *   A token that is sent and does not verify fails the call, even with a client certificate: a
 *   client that sent one meant it.
 * - else, under mutual TLS, the client certificate's subject CN (the handshake already verified it
 *   against the client CA; the SAN is not read).
 * With no authentication configured, every call is ANONYMOUS. Otherwise a call without credentials
 * fails with AuthenticationFailedError (UNAUTHENTICATED).
 */
export class Authenticator {
  readonly isEnabled: boolean;
  private readonly isLoopbackPeer: (remoteAddress: string | undefined) => boolean;

  constructor(private readonly options: AuthenticatorOptions) {
    this.isEnabled = options.staticTokens !== undefined || options.jwt !== undefined || options.isMutualTls;
    this.isLoopbackPeer = options.isLoopbackPeer ?? isLoopbackAddress;
  }

  get acceptsTokens(): boolean {
    return this.options.staticTokens !== undefined || this.options.jwt !== undefined;
  }

  async authenticate(authorization: string | undefined, peer: PeerInfo): Promise<Authentication> {
    if (!this.isEnabled) return { principal: ANONYMOUS_PRINCIPAL, method: 'anonymous' };
    if (authorization !== undefined) return this.authenticateToken(authorization, peer);
    if (this.options.isMutualTls) {
      const commonName = peer.peerCertificate?.subject?.CN;
      const principal = Array.isArray(commonName) ? commonName[0] : commonName;
      if (peer.isTls && typeof principal === 'string' && principal !== '') return { principal, method: 'mtls' };
      throw new AuthenticationFailedError('the client certificate names no principal (its subject has no CN)');
    }
    throw new AuthenticationFailedError('this server requires credentials: a bearer token (authorization metadata) or a client certificate');
  }

  private async authenticateToken(authorization: string, peer: PeerInfo): Promise<Authentication> {
    const match = /^Bearer +(\S+)\s*$/i.exec(authorization);
    if (!match) throw new AuthenticationFailedError("the authorization metadata must be 'Bearer TOKEN'");
    if (!this.acceptsTokens) throw new AuthenticationFailedError('this server accepts no bearer tokens (it authenticates by client certificate)');
    if (!peer.isTls && !this.isLoopbackPeer(peer.remoteAddress)) {
      throw new AuthenticationFailedError('a bearer token is accepted only over TLS or from this machine: in plaintext anyone on the path could take it');
    }
    const token = match[1]!;
    const principal = this.options.staticTokens?.principalOf(token);
    if (principal !== undefined) return { principal, method: 'token' };
    if (this.options.jwt && JwtVerifier.looksLikeJwt(token)) return { principal: await this.options.jwt.principalOf(token), method: 'jwt' };
    throw new AuthenticationFailedError('the bearer token is not one this server knows');
  }
}

/** 127.0.0.0/8 and ::1, as IPv4 or IPv4-mapped IPv6. */
export function isLoopbackAddress(remoteAddress: string | undefined): boolean {
  if (remoteAddress === undefined) return false;
  const bare = remoteAddress.startsWith('::ffff:') ? remoteAddress.slice('::ffff:'.length) : remoteAddress;
  return bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}
