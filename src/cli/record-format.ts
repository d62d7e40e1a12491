import { InvalidArgumentError as UsageError } from 'commander';
import type { ConsumedRecord } from '../client/consume.js';

/** How keys, values and header values are printed: UTF-8 text (bytes that are not UTF-8 become U+FFFD), or lossless base64 / hex. */
export type OutputEncoding = 'utf8' | 'base64' | 'hex';

export function toText(value: Buffer | null, encoding: OutputEncoding = 'utf8'): string | null {
  return value === null ? null : value.toString(encoding);
}

type Part = string | ((record: ConsumedRecord, encoding: OutputEncoding) => string);

/**
 * kcat's -f tokens (%v is the name for kcat's %s). Null keys and values print as nothing,
 * and their lengths as -1, as kcat prints them.
 */
const TOKENS: Record<string, (record: ConsumedRecord, encoding: OutputEncoding) => string> = {
  t: (r) => r.topic,
  p: (r) => String(r.partition),
  o: (r) => String(r.offset),
  T: (r) => String(r.timestampMs),
  k: (r, e) => toText(r.key, e) ?? '',
  K: (r) => String(r.key?.length ?? -1),
  v: (r, e) => toText(r.value, e) ?? '',
  s: (r, e) => toText(r.value, e) ?? '',
  S: (r) => String(r.value?.length ?? -1),
  // name=value,name=value in the record's order, repeats kept; a null value prints as the name alone.
  h: (r, e) => r.headers.map((h) => (h.value === null ? h.key : `${h.key}=${toText(h.value, e)}`)).join(','),
};
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\' };

export const FORMAT_TOKENS_HELP = '%t topic, %p partition, %o offset, %k key, %v (or %s) value, %h headers (k=v,k=v), %T timestamp ms, %K / %S key / value length (-1: null), %% a %; \\n \\t \\r \\\\ escapes';

/**
 * A kcat-style format string (`%t %p %o %k %v %h\n`) as a function of a record. The result is
 * printed as it is: a format that should end lines ends in \n, as kcat's -f does.
 */
export function compileRecordFormat(format: string): (record: ConsumedRecord, encoding: OutputEncoding) => string {
  const parts: Part[] = [];
  let literal = '';
  for (let i = 0; i < format.length; i++) {
    const char = format[i]!;
    const next = format[i + 1];
    if (char === '%' || char === '\\') {
      if (next === undefined) throw new UsageError(`--format ends in a lone '${char}': ${FORMAT_TOKENS_HELP}`);
      i++;
      if (char === '%' && next === '%') literal += '%';
      else if (char === '\\' && ESCAPES[next] !== undefined) literal += ESCAPES[next];
      else if (char === '%' && TOKENS[next] !== undefined) {
        if (literal) parts.push(literal);
        literal = '';
        parts.push(TOKENS[next]);
      } else throw new UsageError(`--format: unknown '${char}${next}'; known: ${FORMAT_TOKENS_HELP}`);
    } else literal += char;
  }
  if (literal) parts.push(literal);
  return (record, encoding) => {
    let text = '';
    for (const part of parts) text += typeof part === 'string' ? part : part(record, encoding);
    return text;
  };
}
