import { describe, expect, it } from 'vitest';
import { hashToken, StaticTokens } from '../../../src/server/auth/static-tokens.js';

describe('StaticTokens', () => {
  it('finds a principal by its token hash, and nothing for another token', () => {
    const tokens = new StaticTokens([{ principal: 'alice', sha256: hashToken('s3cret') }]);
    expect(hashToken('test')).toBe('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
    expect(tokens.principalOf('s3cret')).toBe('alice');
    expect(tokens.principalOf('s3cre')).toBeUndefined();
  });

  it('refuses an entry that holds a token instead of its hash, one without a principal, and a token given twice', () => {
    expect(() => new StaticTokens([{ principal: 'alice', sha256: 's3cret' }])).toThrow(/64 hex digits/);
    expect(() => new StaticTokens([{ principal: '', sha256: hashToken('x') }])).toThrow(/principal/);
    expect(() => new StaticTokens([{ principal: 'a', sha256: hashToken('x') }, { principal: 'b', sha256: hashToken('x') }])).toThrow(/same token/);
  });
});
