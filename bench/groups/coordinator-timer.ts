import { performance } from 'node:perf_hooks';

/**
 * Real time spent inside the coordinator (its heartbeat() and its timer callbacks), minus the time of
 * the bench's own callbacks it calls (pushes to simulated members). The coordinator is synchronous
 * and runs on the one JS thread, so this is its CPU time (performance.now(): a process.cpuUsage()
 * call costs ~1 us, as much as a heartbeat).
 */
export class CoordinatorTimer {
  ms = 0;
  calls = 0;
  assignorMs = 0;
  assignorCalls = 0;
  private depth = 0;
  private excludedMs = 0;

  inside<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    this.depth++;
    const excludedBefore = this.excludedMs;
    const start = performance.now();
    try {
      return fn();
    } finally {
      this.ms += performance.now() - start - (this.excludedMs - excludedBefore);
      this.calls++;
      this.depth--;
    }
  }

  outside<T>(fn: () => T): T {
    if (this.depth === 0) return fn();
    const start = performance.now();
    try {
      return fn();
    } finally {
      this.excludedMs += performance.now() - start;
    }
  }

  reset(): void {
    this.ms = 0;
    this.calls = 0;
    this.assignorMs = 0;
    this.assignorCalls = 0;
  }
}
