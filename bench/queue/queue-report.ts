/** The queue bench's tables: medians over rounds, CPU per record, ratios against the peers of the same run. */
import { fmt, log, table } from '../grpc/report-format.js';
import type { DrainResult } from './drain-result.js';
import type { RedeliveryResult } from './strata-redelivery.js';
import type { StrataDrainResult } from './strata-queue.js';

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface CaseSummary {
  system: string;
  consumers: number;
  rounds: number;
  recordsPerSec: number;
  minRecordsPerSec: number;
  maxRecordsPerSec: number;
  clientCpuUsPerRecord: number;
  serverCpuUsPerRecord: number;
  notes: string[];
}

export function summarize(results: DrainResult[]): CaseSummary[] {
  const groups = new Map<string, DrainResult[]>();
  for (const r of results) {
    const name = `${r.system}\u0000${r.consumers}`;
    groups.set(name, [...(groups.get(name) ?? []), r]);
  }
  return [...groups.values()].map((rs) => ({
    system: rs[0]!.system,
    consumers: rs[0]!.consumers,
    rounds: rs.length,
    recordsPerSec: median(rs.map((r) => r.recordsPerSec)),
    minRecordsPerSec: Math.min(...rs.map((r) => r.recordsPerSec)),
    maxRecordsPerSec: Math.max(...rs.map((r) => r.recordsPerSec)),
    clientCpuUsPerRecord: median(rs.map((r) => r.clientCpuUsPerRecord)),
    serverCpuUsPerRecord: median(rs.map((r) => r.serverCpuUsPerRecord)),
    notes: rs.flatMap((r) => (r.note ? [r.note] : [])),
  }));
}

const rate = (s: CaseSummary) => (s.rounds > 1 ? `${fmt(s.recordsPerSec)} (${fmt(s.minRecordsPerSec)}-${fmt(s.maxRecordsPerSec)})` : fmt(s.recordsPerSec));
const ratio = (a: number, b: number | undefined) => (b === undefined || !Number.isFinite(a / b) ? 'n/a' : `${fmt(a / b, 2)}x`);

/** One row per system and consumer count; each row's ratios are against the peers at the same count. */
export function printThroughput(summaries: CaseSummary[], peers: { redis?: string; redisDurable?: string; rabbit?: string }): void {
  if (summaries.length === 0) {
    log('(no system measured)');
    return;
  }
  const find = (system: string | undefined, consumers: number) => summaries.find((s) => s.system === system && s.consumers === consumers)?.recordsPerSec;
  const rows = summaries
    .sort((a, b) => a.consumers - b.consumers)
    .map((s) => [
      s.system,
      String(s.consumers),
      rate(s),
      `${fmt(s.clientCpuUsPerRecord + s.serverCpuUsPerRecord, 1)} (${fmt(s.clientCpuUsPerRecord, 1)} + ${fmt(s.serverCpuUsPerRecord, 1)})`,
      ratio(s.recordsPerSec, find(peers.redis, s.consumers)),
      ratio(s.recordsPerSec, find(peers.redisDurable, s.consumers)),
      ratio(s.recordsPerSec, find(peers.rabbit, s.consumers)),
    ]);
  log(table(['system', 'consumers', 'records/s acked (median; range)', 'CPU us/record (consumers + server)', 'vs Redis', 'vs Redis AOF', 'vs RabbitMQ'], rows));
  for (const s of summaries) for (const note of s.notes) log(`  ! ${s.system}, ${s.consumers} consumers: ${note}`);
}

export function printRedelivery(results: RedeliveryResult[]): void {
  const rows = results.map((r) => [`${fmt(r.records)} in ${fmt(r.waves)} waves`, fmt(r.distinctDeadlines), `${fmt(r.lockDurationMs)} ms`, `${fmt(r.backoffBaseMs)} ms`, fmt(r.samples), fmt(r.minMs, 0), fmt(r.p50Ms, 0), fmt(r.p99Ms, 0), fmt(r.maxMs, 0), fmt(r.missing)]);
  log(table(['records', 'distinct lock deadlines', 'lock', 'backoff base', 'samples', 'min ms', 'p50 ms', 'p99 ms', 'max ms', 'missing'], rows));
  for (const r of results) if (r.note) log(`  ! ${r.note}`);
}

export function printKeyOrdering(results: StrataDrainResult[]): void {
  const byMode = (mode: string) => results.filter((r) => r.system.includes(mode));
  const unordered = byMode('ordering none');
  const keyed = byMode('ordering key');
  const rows = [...unordered, ...keyed].map((r) => [r.system, String(r.consumers), fmt(r.recordsPerSec), fmt(r.clientCpuUsPerRecord + r.serverCpuUsPerRecord, 1), fmt(r.keyOrderViolations)]);
  log(table(['mode (same keyed backlog)', 'consumers', 'records/s acked', 'CPU us/record', 'records delivered before an earlier one of their key'], rows));
  const none = median(unordered.map((r) => r.recordsPerSec));
  const key = median(keyed.map((r) => r.recordsPerSec));
  log(`  key-ordered / unordered throughput (medians): ${ratio(key, none)}`);
  for (const r of results) if (r.note) log(`  ! ${r.system}: ${r.note}`);
}
