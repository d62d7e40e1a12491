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
 *
 * `--initial-heap-size=128`: the live heap stays near 12 MB, and with V8's limits for a heap that
 * small the server still ran a full collection about every 100 ms at ~150 MB/s of produce (50-64 in
 * 6 s), each sweeping array buffers: every gRPC message arrives in buffers of its own, outside the
 * JS heap. Starting the heap at 128 MB: 2-3 in 6 s and one about every 2 s over 20 s; server CPU per
 * 16 KiB request 81-84 -> 66-68 us, produce +12 % (2 alternating rounds, bench/RESULTS.md). Peak RSS
 * rose 7 MB in those runs (the limit is a starting size, not memory taken).
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16', '--max-semi-space-size=32', '--initial-heap-size=128'];
