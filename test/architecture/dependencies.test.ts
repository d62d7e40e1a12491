import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../helpers/temp-dir.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The rules live in .dependency-cruiser.cjs (the layout's one direction of dependency, no cycles, every
 * import resolvable), so `npx depcruise src` by hand and this test check the same thing. Static,
 * dynamic (`import()`), side-effect and type-only imports all count.
 */
const config = createRequire(import.meta.url)(join(ROOT, '.dependency-cruiser.cjs')) as {
  forbidden: unknown[];
  options: Record<string, unknown>;
};

async function violationsIn(directory: string): Promise<string[]> {
  const { output } = await cruise([directory], { ...config.options, validate: true, ruleSet: { forbidden: config.forbidden } } as never);
  const result = output as ICruiseResult;
  return result.summary.violations.map((v: IViolation) => `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle: ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`);
}

function write(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

describe('module dependencies', () => {
  const temp = useTempDir({ prefix: 'strata-deps-' });

  it('point one way, with no cycle between files, in src/', async () => {
    const violations = await violationsIn(join(ROOT, 'src'));
    expect(violations).toEqual([]);
  });

  it('catch a dynamic import, a side-effect import, a type-only import, a cycle and an unknown module, planted', async () => {
    write(temp.path, {
      'src/server/service.ts': 'export const service = 1;\n',
      // storage must not reach the server, however it imports it
      'src/storage/dynamic.ts': "export async function load(): Promise<unknown> { return import('../server/service.js'); }\n",
      'src/client/side-effect.ts': "import '../server/service.js';\nexport const x = 1;\n",
      'src/client/types-only.ts': "import type { service } from '../server/service.js';\nexport type S = typeof service;\n",
      // a cycle inside one module is allowed by the layers, not by the cycle rule
      'src/format/a.ts': "import { b } from './b.js';\nexport const a = (): number => b + 1;\n",
      'src/format/b.ts': "import type { a } from './a.js';\nexport const b = 1;\nexport type A = typeof a;\n",
      'src/format/fine.ts': "import { b } from './b.js';\nexport const fine = b;\n",
      // a module the layers do not know
      'src/core/clock.ts': 'export const clock = 1;\n',
      'src/mystery/m.ts': "import { clock } from '../core/clock.js';\nexport const m = clock;\n",
    });
    const violations = await violationsIn(join(temp.path, 'src'));
    const byRule = (rule: string, from: string) => violations.filter((v) => v.startsWith(`${rule}:`) && v.includes(from));
    expect(byRule('layer-storage', 'src/storage/dynamic.ts'), violations.join('\n')).toHaveLength(1);
    expect(byRule('layer-client', 'src/client/side-effect.ts'), violations.join('\n')).toHaveLength(1);
    expect(byRule('layer-client', 'src/client/types-only.ts'), violations.join('\n')).toHaveLength(1);
    expect(byRule('no-cycle', 'src/format/a.ts'), violations.join('\n')).toHaveLength(1);
    expect(byRule('known-module', 'src/mystery/m.ts'), violations.join('\n')).toHaveLength(1);
    expect(violations.filter((v) => v.includes('fine.ts'))).toEqual([]);
  });

  it('catch a server file other than bootstrap.ts that imports storage, planted', async () => {
    const root = join(temp.path, 'server-storage');
    write(root, {
      'src/storage/log-manager.ts': 'export class LogManager {}\n',
      'src/broker/broker.ts': "import type { LogManager } from '../storage/log-manager.js';\nexport type Logs = LogManager;\n",
      // the composition root builds the domain over storage: allowed
      'src/server/bootstrap.ts': "import { LogManager } from '../storage/log-manager.js';\nexport const make = (): LogManager => new LogManager();\n",
      // a service that reaches past the broker, even for a type: refused
      'src/server/admin-service.ts': "import type { LogManager } from '../storage/log-manager.js';\nexport type L = LogManager;\n",
      'src/server/through-broker.ts': "import type { Logs } from '../broker/broker.js';\nexport type L = Logs;\n",
    });
    const violations = await violationsIn(join(root, 'src'));
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatch(/^server-storage-only-in-bootstrap: \S*src\/server\/admin-service\.ts -> \S*src\/storage\/log-manager\.ts$/);
  });
});
