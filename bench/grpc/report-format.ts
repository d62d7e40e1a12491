/** How the bench prints: Markdown tables and en-US numbers, so that a run pastes into bench/RESULTS.md. */

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
export const pct = (ratio: number) => `${fmt(ratio * 100, 0)} %`;

export function table(headers: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

export function log(text: string): void {
  process.stdout.write(`${text}\n`);
}
