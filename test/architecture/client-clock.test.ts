import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAst } from 'vite';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLIENT = join(ROOT, 'src/client');

const TIMER_FUNCTIONS = new Set(['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval']);
const CLOCK_READINGS = new Set(['Date.now', 'performance.now', 'process.hrtime', 'process.hrtime.bigint', 'globalThis.setTimeout', 'globalThis.setInterval', 'globalThis.clearTimeout', 'globalThis.clearInterval']);
const TIMER_MODULES = new Set(['timers', 'timers/promises', 'node:timers', 'node:timers/promises']);

interface AstNode {
  type: string;
  start: number;
  [key: string]: unknown;
}

/** `a.b.c` for a chain of identifiers and property names, else undefined. */
function dottedName(node: AstNode): string | undefined {
  if (node.type === 'Identifier') return node.name as string;
  if (node.type === 'MemberExpression' && !node.computed) {
    const object = dottedName(node.object as AstNode);
    return object === undefined ? undefined : `${object}.${(node.property as AstNode).name as string}`;
  }
  return undefined;
}

/**
 * Every place in `source` that keeps time without the injected Clock (core/clock.ts): a global
 * timer call, a reading of the real time (`Date.now()`, `performance.now()`, `new Date()` without
 * arguments), an import of Node's timers. Read from the syntax tree (Vite's parser), so comments,
 * strings and `clock.setTimeout(...)` do not count. setImmediate is not time: it is one turn of the
 * event loop.
 */
export function directTimeUses(fileName: string, source: string): string[] {
  const found: string[] = [];
  const at = (node: AstNode, what: string) => found.push(`${fileName}:${source.slice(0, node.start).split('\n').length} ${what}`);
  const visit = (node: AstNode): void => {
    if (node.type === 'CallExpression') {
      const name = dottedName(node.callee as AstNode);
      if (name !== undefined && (TIMER_FUNCTIONS.has(name) || CLOCK_READINGS.has(name))) at(node, `${name}()`);
    }
    if (node.type === 'NewExpression' && dottedName(node.callee as AstNode) === 'Date' && (node.arguments as unknown[]).length === 0) at(node, 'new Date()');
    if ((node.type === 'ImportDeclaration' || node.type === 'ExportNamedDeclaration' || node.type === 'ExportAllDeclaration' || node.type === 'ImportExpression') && node.source) {
      const specifier = (node.source as AstNode).value;
      if (typeof specifier === 'string' && TIMER_MODULES.has(specifier)) at(node, `import from '${specifier}'`);
    }
    for (const value of Object.values(node)) {
      for (const child of Array.isArray(value) ? value : [value]) {
        if (child !== null && typeof child === 'object' && typeof (child as AstNode).type === 'string') visit(child as AstNode);
      }
    }
  };
  visit(parseAst(source, { lang: 'ts' }) as unknown as AstNode);
  return found;
}

function typeScriptFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? typeScriptFiles(join(directory, entry.name)) : entry.name.endsWith('.ts') ? [join(directory, entry.name)] : [],
  );
}

describe('the client keeps time only through its injected Clock', () => {
  it('src/client calls no timer and reads no time directly (so ManualClock tests see every timer)', () => {
    const files = typeScriptFiles(CLIENT);
    expect(files.length).toBeGreaterThan(10);
    const uses = files.flatMap((path) => directTimeUses(relative(ROOT, path), readFileSync(path, 'utf8')));
    expect(uses).toEqual([]);
  });

  it('the scan finds each kind of direct use, and not the clock calls, comments or setImmediate', () => {
    const planted = [
      "import { setTimeout as sleep } from 'node:timers/promises';",
      'const a = setTimeout(() => undefined, 5);',
      'clearTimeout(a);',
      'const b = setInterval(() => undefined, 5);',
      'clearInterval(b);',
      'const c = Date.now();',
      'const d = performance.now();',
      'const e = new Date();',
      'globalThis.setTimeout(() => undefined, 1);',
      // Not direct uses:
      'clock.setTimeout(() => undefined, 5); this.clock.nowMs(); new Date(0); new Date(clock.nowMs());',
      '// Date.now() in a comment, setTimeout() too',
      "const text = 'setInterval(x)';",
      'setImmediate(() => undefined);',
    ].join('\n');
    expect(directTimeUses('planted.ts', planted)).toEqual([
      "planted.ts:1 import from 'node:timers/promises'",
      'planted.ts:2 setTimeout()',
      'planted.ts:3 clearTimeout()',
      'planted.ts:4 setInterval()',
      'planted.ts:5 clearInterval()',
      'planted.ts:6 Date.now()',
      'planted.ts:7 performance.now()',
      'planted.ts:8 new Date()',
      'planted.ts:9 globalThis.setTimeout()',
    ]);
  });
});
