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

/** "total (client + server)" CPU ms per MB, so that a run shows which side a cost is on. */
export function cpuText(r: { cpuMsPerMb: number; clientCpuMsPerMb: number; serverCpuMsPerMb: number }): string {
  return `${fmt(r.cpuMsPerMb, 2)} (${fmt(r.clientCpuMsPerMb, 2)} + ${fmt(r.serverCpuMsPerMb, 2)})`;
}
