import { KiB, MiB } from './bench-params.js';
import type { IoStats } from './counting-file-system.js';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function percentile(sortedValues: number[], p: number): number {
  if (sortedValues.length === 0) return Number.NaN;
  const index = Math.min(sortedValues.length - 1, Math.max(0, Math.ceil((p / 100) * sortedValues.length) - 1));
  return sortedValues[index]!;
}

export function fmt(value: number, digits = 1): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function pct(ratio: number): string {
  return `${fmt(ratio * 100, 0)} %`;
}

export function sizeText(bytes: number): string {
  return bytes >= MiB && bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`;
}

export function ioText(io: IoStats, elapsedMs: number): string {
  const perWritev = io.writevCalls > 0 ? io.writevBytes / io.writevCalls / KiB : 0;
  return (
    `writev ${io.writevCalls}x avg ${fmt(perWritev, 0)} KiB (${pct(io.writevMs / elapsedMs)} of the time), ` +
    `fdatasync ${io.datasyncCalls}x (${pct(io.datasyncMs / elapsedMs)} of the time, max ${fmt(io.datasyncMaxMs, 0)} ms)`
  );
}

export function latencyText(latenciesMs: number[]): string {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return `p50 ${fmt(percentile(sorted, 50), 2)} ms, p99 ${fmt(percentile(sorted, 99), 2)} ms, max ${fmt(sorted[sorted.length - 1] ?? Number.NaN, 1)} ms`;
}
