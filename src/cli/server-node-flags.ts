/**
 * V8 flags the server process runs with: bin/strata.js's shebang, `make run` and the benchmarks pass
 * them (test/cli/server-node-flags.test.ts keeps the three in step).
 *
 * Why: V8 starts with a 1 MiB young generation and grows it slowly. A produce request lives a few
 * milliseconds (from its HTTP/2 frames to its acknowledgement), so with a small young generation many
 * survive two scavenges, are promoted, and the old generation fills fast: 56-71 full collections in
 * 4 s at ~1M records/s. With 16-32 MiB semi-spaces they die young: 3-10 full collections, and the
 * server's CPU per record fell 10-32 % (3 of 3 alternating pairs, bench/RESULTS.md). The cost is up
 * to 96 MiB of young generation (two semi-spaces and their copy space) instead of a few MiB.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16', '--max-semi-space-size=32'];
