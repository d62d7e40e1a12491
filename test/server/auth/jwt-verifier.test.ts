import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { JwtVerifier } from '../../../src/server/auth/jwt-verifier.js';
import { useTempDir } from '../../helpers/temp-dir.js';

describe('JwtVerifier', () => {
  const temp = useTempDir();
  const nowMs = Date.UTC(2026, 0, 1);

  it('verifies against a JWKS file by kid, takes the principal from the configured claim, and checks expiry on the injected clock', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const jwksFile = join(temp.path, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
    let clockMs = nowMs;
    const verifier = new JwtVerifier({ issuer: 'iss', audience: 'aud', jwksFile, principalClaim: 'client_id' }, () => clockMs);
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer('iss').setAudience('aud').setIssuedAt(nowMs / 1000).setExpirationTime(nowMs / 1000 + 60).sign(privateKey);
    expect(await verifier.principalOf(await sign({ client_id: 'billing' }))).toBe('billing');
    await expect(verifier.principalOf(await sign({ sub: 'no-client-id' }))).rejects.toThrow(/'client_id' claim/);
    clockMs = nowMs + 120_000;
    await expect(verifier.principalOf(await sign({ client_id: 'billing' }))).rejects.toThrow(/expired/);
  });

  it('refuses settings without an issuer, an audience or a key', () => {
    expect(() => new JwtVerifier({ issuer: '', audience: 'a', publicKeyFiles: [] }, Date.now)).toThrow(/issuer/);
    expect(() => new JwtVerifier({ issuer: 'i', audience: '', publicKeyFiles: [] }, Date.now)).toThrow(/audience/);
    expect(() => new JwtVerifier({ issuer: 'i', audience: 'a' }, Date.now)).toThrow(/publicKeyFiles or a jwksFile/);
  });
});
