/**
 * The subscriber of grpc-bench's end-to-end latency step, a child process of its own so that its
 * decoding does not share a JS thread with the producer (as a real consumer would not). Started by
 * bench/grpc-bench.ts, never on its own in normal use:
 *
 *   node dist/bench/latency-subscriber.js ADDRESS TOPIC
 *
 * It subscribes to every partition of TOPIC from 'latest' and reads record values written by the
 * producer: bytes 0-7 the send time, process.hrtime.bigint() as a u64 LE (CLOCK_MONOTONIC, the same
 * clock in every process of the machine), byte 8 the kind: 0 warm-up, 1 measured, 2 probe.
 * Protocol on stdout: `subscribing` once started, `probe` for the first probe seen. On stdin the
 * parent writes `stop N` (N: measured records sent); the subscriber waits until it has received N
 * measured records (15 s at most) and prints `result {json}` with the latency percentiles, then exits.
 */
import { createHistogram, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { StrataClient } from '../src/client/strata-client.js';

async function main(): Promise<void> {
  const [address, topic] = process.argv.slice(2);
  if (!address || !topic) throw new Error('usage: latency-subscriber ADDRESS TOPIC');
  const client = new StrataClient({ address });
  const controller = new AbortController();
  const histogram = createHistogram();
  let received = 0;
  let hasSeenProbe = false;
  let expected = Number.POSITIVE_INFINITY;
  let onStop: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => (onStop = resolve));

  createInterface({ input: process.stdin }).on('line', (line) => {
    const match = /^stop (\d+)$/.exec(line);
    if (!match) return;
    expected = Number(match[1]);
    onStop?.();
  });
  process.stdin.on('end', () => {
    // The parent is gone: stop.
    controller.abort();
    process.exit(0);
  });

  const reading = (async () => {
    process.stdout.write('subscribing\n');
    for await (const record of client.consume(topic, { from: 'latest', signal: controller.signal })) {
      const value = record.value!;
      const kind = value[8];
      if (kind === 1) {
        const nanos = process.hrtime.bigint() - value.readBigUInt64LE(0);
        histogram.record(nanos > 0n ? nanos : 1n);
        received++;
      } else if (kind === 2 && !hasSeenProbe) {
        hasSeenProbe = true;
        process.stdout.write('probe\n');
      }
    }
  })();
  reading.catch((error: unknown) => process.stderr.write(`latency subscriber: ${String(error)}\n`));

  // Wait for `stop N`, then for N measured records (or 15 s).
  await stopped;
  const waitStart = performance.now();
  while (received < expected && performance.now() - waitStart < 15_000) await new Promise((resolve) => setTimeout(resolve, 10));
  controller.abort();
  const ms = (nanos: number) => nanos / 1e6;
  const result = {
    received,
    p50Ms: ms(histogram.percentile(50)),
    p99Ms: ms(histogram.percentile(99)),
    p999Ms: ms(histogram.percentile(99.9)),
    maxMs: ms(histogram.max),
  };
  process.stdout.write(`result ${JSON.stringify(result)}\n`);
  client.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`latency subscriber failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
