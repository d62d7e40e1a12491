export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
export const fmtMs = (n: number) => (Number.isFinite(n) ? `${fmtInt(n)} ms` : '-');
/** partition-milliseconds as partition-seconds */
export const fmtPs = (partitionMs: number) => (partitionMs / 1000).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export function fmtRatio(a: number, b: number): string {
  if (b === 0) return a === 0 ? '1 (both 0)' : 'inf';
  const r = a / b;
  return r >= 0.1 ? r.toFixed(2) : r.toPrecision(2);
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
