/**
 * What every system's throughput case measures and how: a backlog of records (written before the
 * clock starts), drained by N consumers that each hold at most `inFlight` unanswered records
 * (default 100) and acknowledge every record on its own. The clock runs from the consumers' start to the
 * moment the last acknowledgement is known to be applied by the server (or the case's deadline).
 */
import { startCpuMeter } from '../process-cpu.js';

export const VALUE_BYTES = 100;
export const VALUE = Buffer.alloc(VALUE_BYTES, 'q');
/** Unanswered records per consumer: RabbitMQ's prefetch, Redis's XREADGROUP COUNT, Strata's in-flight limit. */
export const DEFAULT_IN_FLIGHT_PER_CONSUMER = 100;
export const CONSUMER_COUNTS = [1, 4, 16] as const;

/** One drain: `name` names its stream, queue or topic and group (unique per run). */
export interface DrainCase {
  name: string;
  consumers: number;
  backlog: number;
  /** Unanswered records per consumer at most. */
  inFlight: number;
  deadlineMs: number;
}

export interface DrainResult {
  system: string;
  consumers: number;
  backlog: number;
  inFlight: number;
  /** Records acknowledged (confirmed applied) before the clock stopped. */
  acknowledged: number;
  /** Deliveries seen by the consumers: more than `acknowledged` means records were delivered twice. */
  deliveries: number;
  /** Acknowledgements the server refused or that failed. */
  failedAcks: number;
  seconds: number;
  recordsPerSec: number;
  /** CPU microseconds per acknowledged record: this process (the consumers) and the server's process tree. */
  clientCpuUsPerRecord: number;
  serverCpuUsPerRecord: number;
  /** Set when the case did not drain its backlog before its deadline. */
  note?: string;
}

/** The shared counters of one case's consumers. */
export class DrainCounters {
  acknowledged = 0;
  deliveries = 0;
  failedAcks = 0;
  wrongValues = 0;
  firstError: unknown;
  private resolveDone: (() => void) | undefined;
  readonly done: Promise<void>;

  constructor(readonly backlog: number) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  delivered(value: { length: number } | null | undefined): void {
    this.deliveries++;
    if (value?.length !== VALUE_BYTES) this.wrongValues++;
  }

  acked(count = 1): void {
    this.acknowledged += count;
    if (this.acknowledged >= this.backlog) this.resolveDone?.();
  }

  failed(error: unknown): void {
    this.failedAcks++;
    this.firstError ??= error;
  }

  /** Stops waiting (the deadline or a consumer's failure). */
  stop(): void {
    this.resolveDone?.();
  }
}

/**
 * Runs one drain: `start` starts the consumers (they count into the counters) and returns their
 * closing, which is awaited inside the clock when `closeIsPartOfTheWork` (RabbitMQ: a channel's close
 * is what proves its acks were applied) and outside it otherwise.
 */
export async function measureDrain(
  system: string,
  drainCase: DrainCase,
  serverPid: number,
  start: (counters: DrainCounters) => Promise<{ close: () => Promise<void>; closeIsPartOfTheWork: boolean }>,
): Promise<DrainResult> {
  const { consumers, backlog, deadlineMs } = drainCase;
  const counters = new DrainCounters(backlog);
  const stopCpu = startCpuMeter(serverPid);
  const startMs = performance.now();
  const timer = setTimeout(() => counters.stop(), deadlineMs);
  let closeConsumers: () => Promise<void> = async () => undefined;
  let closeInside = false;
  try {
    const started = await start(counters);
    closeConsumers = started.close;
    closeInside = started.closeIsPartOfTheWork;
    await counters.done;
    if (closeInside) await closeConsumers();
  } finally {
    clearTimeout(timer);
  }
  const seconds = (performance.now() - startMs) / 1000;
  const cpu = stopCpu();
  if (!closeInside) await closeConsumers();
  const acknowledged = Math.min(counters.acknowledged, backlog);
  const notes: string[] = [];
  if (counters.acknowledged < backlog) notes.push(`stopped after ${seconds.toFixed(1)} s (deadline ${Math.round(deadlineMs / 1000)} s) with ${counters.acknowledged} of ${backlog} acknowledged`);
  if (counters.deliveries > counters.acknowledged + counters.failedAcks && counters.acknowledged >= backlog) notes.push(`${counters.deliveries - counters.acknowledged} more deliveries than records`);
  if (counters.wrongValues > 0) notes.push(`${counters.wrongValues} values of the wrong size`);
  if (counters.failedAcks > 0) notes.push(`${counters.failedAcks} failures (acks or consumers), the first: ${String(counters.firstError)}`);
  return {
    system,
    consumers,
    backlog,
    inFlight: drainCase.inFlight,
    acknowledged,
    deliveries: counters.deliveries,
    failedAcks: counters.failedAcks,
    seconds,
    recordsPerSec: acknowledged / seconds,
    clientCpuUsPerRecord: (cpu.clientMs * 1000) / Math.max(1, acknowledged),
    serverCpuUsPerRecord: (cpu.serverMs * 1000) / Math.max(1, acknowledged),
    ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
  };
}

/** The p-th percentile (0..100) of ascending values, nearest rank. */
export function percentile(sortedValues: readonly number[], p: number): number {
  if (sortedValues.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sortedValues.length);
  return sortedValues[Math.min(sortedValues.length - 1, Math.max(0, rank - 1))]!;
}
