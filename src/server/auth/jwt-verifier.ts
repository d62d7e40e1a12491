import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AuthenticationFailedError, InvalidConfigError } from '../../core/errors.js';

/**
 * JWT settings (server config `jwt`): who issues the tokens, for whom, the keys that sign them (PEM
 * public key files, or a JWKS file), and which claim names the principal.
 */
export interface JwtSettings {
  issuer: string;
  audience: string;
  /** PEM public keys (RSA, EC or Ed25519); each token must verify with one of them. */
  publicKeyFiles?: string[];
  /** A JWKS file (JSON { "keys": [...] }): the token's `kid` and `alg` pick the key. */
  jwksFile?: string;
  /** The claim that names the principal. Default `sub`. */
  principalClaim?: string;
  /** Accepted signature algorithms. Default: the asymmetric ones (no `none`, no HMAC). */
  algorithms?: string[];
}

const DEFAULT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** Clocks of issuer and server may differ this much on exp and nbf. */
const CLOCK_TOLERANCE_S = 30;

/**
 * Verifies JWTs with the `jose` library: signature against the configured keys, issuer, audience,
 * expiry and not-before (with CLOCK_TOLERANCE_S of skew) on the injected clock, and the principal
 * from `principalClaim`. Only asymmetric algorithms by default: a server that knows a shared secret
 * could mint tokens itself.
 */
export class JwtVerifier {
  private readonly keys: KeyObject[] = [];
  private readonly jwks: JWTVerifyGetKey | undefined;
  private readonly principalClaim: string;
  private readonly algorithms: string[];

  constructor(
    private readonly settings: JwtSettings,
    private readonly nowMs: () => number,
  ) {
    if (typeof settings.issuer !== 'string' || settings.issuer === '') throw new InvalidConfigError('jwt.issuer is required: tokens from any other issuer are refused');
    if (typeof settings.audience !== 'string' || settings.audience === '') throw new InvalidConfigError('jwt.audience is required: tokens for any other audience are refused');
    for (const file of settings.publicKeyFiles ?? []) {
      try {
        this.keys.push(createPublicKey(readFileSync(file)));
      } catch (error) {
        throw new InvalidConfigError(`jwt.publicKeyFiles: cannot read a PEM public key from ${file}: ${(error as Error).message}`, { cause: error });
      }
    }
    if (settings.jwksFile !== undefined) {
      try {
        this.jwks = createLocalJWKSet(JSON.parse(readFileSync(settings.jwksFile, 'utf8')));
      } catch (error) {
        throw new InvalidConfigError(`jwt.jwksFile: cannot read a JWKS from ${settings.jwksFile}: ${(error as Error).message}`, { cause: error });
      }
    }
    if (this.keys.length === 0 && this.jwks === undefined) throw new InvalidConfigError('jwt needs publicKeyFiles or a jwksFile to verify tokens with');
    this.principalClaim = settings.principalClaim ?? 'sub';
    this.algorithms = settings.algorithms ?? DEFAULT_ALGORITHMS;
  }

  /** Whether a token has a JWT's shape (three base64url parts), so it is worth verifying as one. */
  static looksLikeJwt(token: string): boolean {
    return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
  }

  /** The token's principal; AuthenticationFailedError saying what failed (never echoing the token). */
  async principalOf(token: string): Promise<string> {
    const options = { issuer: this.settings.issuer, audience: this.settings.audience, algorithms: this.algorithms, currentDate: new Date(this.nowMs()), clockTolerance: CLOCK_TOLERANCE_S };
    let lastError: unknown;
    const attempts: Array<KeyObject | JWTVerifyGetKey> = [...this.keys, ...(this.jwks ? [this.jwks] : [])];
    for (const key of attempts) {
      try {
        const { payload } = typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
        const principal = payload[this.principalClaim];
        if (typeof principal !== 'string' || principal === '') throw new AuthenticationFailedError(`the JWT has no '${this.principalClaim}' claim to name its principal`);
        return principal;
      } catch (error) {
        if (error instanceof AuthenticationFailedError) throw error;
        lastError = error;
        // A signature that does not verify with this key may with the next; any other failure is the token's.
        if ((error as { code?: string }).code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') break;
      }
    }
    throw new AuthenticationFailedError(`the JWT was refused: ${jwtFailureReason(lastError)}`);
  }
}

function jwtFailureReason(error: unknown): string {
  const code = (error as { code?: string }).code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'it has expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `claim check failed (${(error as Error).message})`;
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'its signature does not verify with any configured key';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'its algorithm is not accepted';
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return 'no key of the JWKS matches it';
    default:
      return 'it is not a valid JWT';
  }
}
