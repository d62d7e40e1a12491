/**
 * The parsed command line (parsed in bench/grpc-bench.ts, handed to each step): one object, passed
 * explicitly, so that no module reads process.argv on its own.
 */

export const STEPS = ['echo', 'produce', 'replay', 'fairness', 'latency', 'redis'] as const;
export type Step = (typeof STEPS)[number];

/** Time budgets of a run (quick or full). */
export interface BenchParams {
  warmupMs: number;
  echoMs: number;
  produceMs: number;
  latencyMs: number;
  latencyWarmupMs: number;
  redisMs: number;
  latencyFlushes: ReadonlyArray<'interval' | 'always'>;
}

export interface BenchOptions {
  /** The arguments as given, for the printed command line. */
  argv: readonly string[];
  isQuick: boolean;
  params: BenchParams;
  /** Time per produce case (--produce-seconds, else the params'). */
  produceMs: number;
  /** Sends not yet acknowledged, at most; the send loop waits for half of them when it is reached. */
  produceWindows: readonly number[];
  /** Which producer calls the produce step measures (--api=send,sendBatch). */
  produceApis: ReadonlySet<string>;
  serverCpuProfDir: string | undefined;
  clientCpuProfDir: string | undefined;
  jsonPath: string | undefined;
}
