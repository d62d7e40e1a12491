import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIST_SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/src');
const ROOT_ENTRY = join(DIST_SRC, 'index.d.ts');

/** Types a user never needs from us: the language's and Node's own. */
const BUILT_IN = new Set(
  'Promise PromiseLike Array ReadonlyArray Record Map Set ReadonlyMap ReadonlySet Iterable IterableIterator AsyncIterable AsyncIterableIterator Generator AsyncGenerator Buffer Date Error Uint8Array AbortSignal Partial Readonly Required Pick Omit Exclude Extract NonNullable ReturnType Parameters Awaited Symbol Function Object String Number Boolean'.split(' '),
);

interface RootExport {
  name: string;
  original: string;
  file: string;
  isTypeOnly: boolean;
}

/** The root entry's named exports (it has only `export { ... } from` and `export type { ... } from`). */
function rootExports(): RootExport[] {
  const text = readFileSync(ROOT_ENTRY, 'utf8');
  const exports: RootExport[] = [];
  for (const match of text.matchAll(/export (type )?\{([^}]*)\} from '([^']+)'/g)) {
    const file = resolve(DIST_SRC, match[3]!.replace(/\.js$/, '.d.ts'));
    for (const item of match[2]!.split(',').map((part) => part.trim()).filter(Boolean)) {
      const [original, name = original] = item.replace(/^type /, '').split(/\s+as\s+/) as [string, string?];
      exports.push({ name, original, file, isTypeOnly: match[1] !== undefined || item.startsWith('type ') });
    }
  }
  return exports;
}

/** Joins a declaration's lines into whole members: a member ends at a `;` outside brackets. */
function members(body: string[]): Array<{ text: string; doc: string }> {
  const result: Array<{ text: string; doc: string }> = [];
  let doc = '';
  let text = '';
  let depth = 0;
  for (const raw of body) {
    const line = raw.trim();
    if (text === '' && (line.startsWith('/**') || line.startsWith('*'))) {
      doc += line;
      continue;
    }
    text += (text ? ' ' : '') + line;
    for (const char of line) depth += '({[<'.includes(char) ? 1 : ')}]>'.includes(char) ? -1 : 0;
    // `=>` counted a `>`: put it back.
    depth += (line.match(/=>/g) ?? []).length;
    if (depth <= 0 && line.endsWith(';')) {
      result.push({ text, doc });
      text = '';
      doc = '';
      depth = 0;
    }
  }
  return result;
}

/** The type a member gives its user: a property's type, or what a method or getter returns. */
function typeOf(member: string): string | undefined {
  const text = member.replace(/^(static |readonly |declare |abstract |get |override )+/, '');
  const nameEnd = /^[\w$[\]. ]+?\??(?=[(<:])/.exec(text)?.[0].length ?? 0;
  let i = nameEnd;
  if (text[i] === '<' || text[i] === '(') {
    let depth = 0;
    for (; i < text.length; i++) {
      const char = text[i]!;
      if ('(<'.includes(char)) depth++;
      else if (char === ')' || (char === '>' && text[i - 1] !== '=')) depth--;
      if (depth === 0 && char === ')') break;
    }
    i++;
  }
  const rest = text.slice(i);
  return rest.startsWith(': ') ? rest.slice(2).replace(/;$/, '') : undefined;
}

/** The named types a type mentions, without type parameters of its own and qualified names (grpc.status). */
function namedTypes(type: string, typeParameters: Set<string>): string[] {
  const cleaned = type.replace(/import\("[^"]*"\)\./g, '').replace(/'[^']*'|"[^"]*"/g, '');
  return [...cleaned.matchAll(/(?<![\w.$])([A-Z]\w*)(?![\w.])/g)].map((m) => m[1]!).filter((name) => !BUILT_IN.has(name) && !typeParameters.has(name));
}

describe('the root entry', () => {
  it.skipIf(!existsSync(ROOT_ENTRY))('exports every type that a public method or property of what it exports returns or takes', () => {
    const exported = rootExports();
    const names = new Set(exported.map((e) => e.name));
    const missing: string[] = [];
    let checkedCount = 0;
    for (const { name, original, file, isTypeOnly } of exported) {
      if (isTypeOnly) continue;
      const lines = readFileSync(file, 'utf8').split('\n');
      const start = lines.findIndex((line) => new RegExp(`^export declare (abstract )?class ${original}\\b`).test(line));
      if (start >= 0) {
        const header = lines[start]!;
        const typeParameters = new Set([...(/class \w+<([^{]*)>/.exec(header)?.[1] ?? '').matchAll(/(?:^|,\s*)(\w+)/g)].map((m) => m[1]!));
        const end = lines.findIndex((line, i) => i > start && line === '}');
        for (const { text, doc } of members(lines.slice(start + 1, end))) {
          if (doc.includes('@internal') || /^(private|protected|#private|constructor)\b/.test(text)) continue;
          const type = typeOf(text);
          if (type === undefined) continue;
          const own = new Set([...typeParameters, ...[...(/^[^(:]*<([^>]*)>\(/.exec(text)?.[1] ?? '').matchAll(/(?:^|,\s*)(\w+)/g)].map((m) => m[1]!)]);
          checkedCount++;
          // What it takes too (its options), not only what it returns.
          for (const typeName of namedTypes(text.replace(/^[^(:<]*/, ''), own)) if (!names.has(typeName)) missing.push(`${name}: ${text}  ->  ${typeName}`);
        }
        continue;
      }
      const fnStart = lines.findIndex((line) => line.startsWith(`export declare function ${original}`));
      if (fnStart >= 0) {
        const fn = members(lines.slice(fnStart))[0]!.text;
        const type = typeOf(fn.replace(/^export declare function /, ''));
        checkedCount++;
        const own = new Set([...(/^export declare function \w+<([^>]*)>/.exec(fn)?.[1] ?? '').matchAll(/(?:^|,\s*)(\w+)/g)].map((m) => m[1]!));
        for (const typeName of namedTypes(fn.replace(/^export declare function \w+/, ''), own)) if (!names.has(typeName)) missing.push(`${name}(): ${typeName}`);
      }
    }
    expect(checkedCount, 'members and functions looked at').toBeGreaterThan(40);
    expect(missing).toEqual([]);
  });
});
