#!/usr/bin/env -S node --min-semi-space-size=16 --max-semi-space-size=32 --initial-heap-size=128
// The V8 flags: src/cli/server-node-flags.ts (why). `node bin/strata.js` without them works too.
// Runs the compiled CLI; `make build` (or `npm run build`) produces dist/.
import { main } from '../dist/src/cli/main.js';

await main(process.argv);
