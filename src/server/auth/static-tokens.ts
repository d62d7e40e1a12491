import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InvalidConfigError } from '../../core/errors.js';

/** The hash a token file stores for a token (`strata auth hash-token`): SHA-256, lowercase hex. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Static bearer tokens (`strata serve --auth-tokens FILE`). The file is JSON, a list of entries that
 * each name a principal and the SHA-256 of its token, never the token itself, so a copy of the file
 * (a backup, a config repository) gives nobody a credential:
 *
 *   [ { "principal": "orders-service", "sha256": "9f86d081884c7d65...(64 hex digits)" } ]
 *
 * Tokens are looked up by their hash: the comparison is over hashes of the whole token, so its time
 * says nothing about how much of a guess was right. Read once at startup.
 */
export class StaticTokens {
  private readonly principalByHash: ReadonlyMap<string, string>;

  constructor(entries: ReadonlyArray<{ principal: string; sha256: string }>) {
    const byHash = new Map<string, string>();
    for (const [index, entry] of entries.entries()) {
      if (typeof entry !== 'object' || entry === null || typeof entry.principal !== 'string' || entry.principal === '') {
        throw new InvalidConfigError(`token entry ${index} needs a "principal" (a non-empty string)`);
      }
      const sha256 = typeof entry.sha256 === 'string' ? entry.sha256.toLowerCase() : '';
      if (!SHA256_HEX.test(sha256)) throw new InvalidConfigError(`token entry ${index} (${entry.principal}) needs "sha256": the token's SHA-256 as 64 hex digits (strata auth hash-token), never the token itself`);
      if (byHash.has(sha256)) throw new InvalidConfigError(`token entry ${index} (${entry.principal}) has the same token as ${byHash.get(sha256)}`);
      byHash.set(sha256, entry.principal);
    }
    this.principalByHash = byHash;
  }

  static fromFile(path: string): StaticTokens {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new InvalidConfigError(`cannot read the token file ${path}: ${(error as Error).message}`, { cause: error });
    }
    if (!Array.isArray(parsed)) throw new InvalidConfigError(`the token file ${path} must hold a JSON list of { "principal", "sha256" } entries`);
    return new StaticTokens(parsed as Array<{ principal: string; sha256: string }>);
  }

  get size(): number {
    return this.principalByHash.size;
  }

  /** The principal of a token, or undefined for a token the file does not list. */
  principalOf(token: string): string | undefined {
    return this.principalByHash.get(hashToken(token));
  }
}
