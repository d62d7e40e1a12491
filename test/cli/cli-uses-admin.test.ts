import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('the CLI', () => {
  it('talks to the server through the client library (Admin, Producer, consumers), never through raw gRPC stubs', () => {
    const dir = new URL('../../src/cli/', import.meta.url);
    const offenders: string[] = [];
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
      readFileSync(new URL(file, dir), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // A stub call, the unary-call helper under Admin, or a generated service's types.
          if (/\.stubs\b|\bimport\s*\{[^}]*\bcall\b[^}]*\}\s*from\s*'\.\.\/client\/admin\.js'|generated\/strata\/v1\/\w+Service\.js/.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });
});
