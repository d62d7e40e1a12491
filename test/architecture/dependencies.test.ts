import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/**
 * The one direction of dependency: core <- format <- storage <- {broker, groups} <- server <- cli.
 * The client stands alone on core, format and the protocol (generated types and their loader), so
 * it can ship as a library; broker and groups never import each other.
 */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  generated: [],
  protocol: ['generated'],
  format: ['core'],
  storage: ['core', 'format'],
  broker: ['core', 'format', 'storage'],
  groups: ['core', 'format', 'storage'],
  client: ['core', 'format', 'generated', 'protocol'],
  server: ['core', 'format', 'storage', 'broker', 'groups', 'generated', 'protocol'],
  cli: ['core', 'client', 'server', 'generated'],
  '.': ['core', 'format', 'storage', 'broker', 'groups', 'client', 'server', 'protocol', 'generated'],
};

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function moduleOf(path: string): string {
  const parts = relative(SRC, path).split('/');
  return parts.length === 1 ? '.' : parts[0]!;
}

describe('module dependencies', () => {
  it('point one way, as the layout says', () => {
    const violations: string[] = [];
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(40);
    for (const file of files) {
      const from = moduleOf(file);
      const allowed = ALLOWED[from];
      expect(allowed, `unknown module '${from}' (${file}): add it to the rule`).toBeDefined();
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.{1,2}\/[^']+)'/g)) {
        const to = moduleOf(resolve(dirname(file), match[1]!));
        if (to !== from && !allowed!.includes(to)) violations.push(`${relative(SRC, file)} imports ${match[1]} (${from} -> ${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('would notice a violation', () => {
    const from = moduleOf(join(SRC, 'groups', 'x.ts'));
    expect(from).toBe('groups');
    expect(ALLOWED[from]!.includes('broker')).toBe(false);
    expect(ALLOWED.client!.includes('server')).toBe(false);
  });
});
