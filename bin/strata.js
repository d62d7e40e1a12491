#!/usr/bin/env node
// Runs the compiled CLI; `make build` (or `npm run build`) produces dist/.
import { main } from '../dist/src/cli/main.js';

await main(process.argv);
