/**
 * V8 flags the server process runs with: bin/strata.js's shebang, `make run` and the benchmarks pass
 * them (test/cli/server-node-flags.test.ts keeps the three in step).
 *
 * Why: V8 starts with a 1 MiB young generation and grows it slowly. A produce request lives a few
 * milliseconds (from its HTTP/2 frames to its acknowledgement), so with a small young generation many
 * survive two scavenges, are promoted, and the old generation fills fast. With 16-32 MiB semi-spaces
 * they die young: far fewer full collections and less server CPU per record (measured in
 * bench/history/2026-11-30-sessions-1-6.md, "Session 4"). The cost is up to 96 MiB of young generation (two
 * semi-spaces and their copy space) instead of a few MiB.
 *
 * `--initial-heap-size=128`: the live heap stays small, and with V8's limits for a heap that small
 * the server still ran a full collection many times a second under produce, each sweeping array
 * buffers: every gRPC message arrives in buffers of its own, outside the JS heap. Starting the heap at
 * 128 MB makes them rare (measured in bench/history/2026-11-30-sessions-1-6.md, "Session 5"); the limit is a
 * starting size, not memory taken.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16', '--max-semi-space-size=32', '--initial-heap-size=128'];
