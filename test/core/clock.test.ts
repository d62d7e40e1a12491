import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { delay, ManualClock, setRepeating, systemClock } from '../../src/core/clock.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('Clock readings', () => {
  it("ManualClock's monotonic reading is its virtual time; a wall clock step moves nowMs() alone and fires no timer", () => {
    const clock = new ManualClock(1_000);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.monotonicMs()), 100);
    clock.advance(50);
    expect([clock.nowMs(), clock.monotonicMs()]).toEqual([1_050, 1_050]);
    clock.stepWallClock(-10_000);
    expect([clock.nowMs(), clock.monotonicMs()]).toEqual([-8_950, 1_050]);
    expect(fired).toEqual([]);
    clock.advance(50);
    expect(fired).toEqual([1_100]);
    expect([clock.nowMs(), clock.monotonicMs()]).toEqual([-8_900, 1_100]);
  });

  it("systemClock's monotonic reading is performance.now(), and never goes back", () => {
    const before = performance.now();
    const first = systemClock.monotonicMs();
    const second = systemClock.monotonicMs();
    expect(first).toBeGreaterThanOrEqual(before);
    expect(second).toBeGreaterThanOrEqual(first);
    expect(second).toBeLessThanOrEqual(performance.now());
  });
});

describe('ManualClock with setRepeating and delay', () => {
  it('setRepeating fires once per period the clock is moved over, in order with other timers, until cancelled', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    const repeating = setRepeating(clock, () => fired.push(`tick@${clock.nowMs()}`), 100);
    clock.setTimeout(() => fired.push(`once@${clock.nowMs()}`), 150);
    clock.advance(99);
    expect(fired).toEqual([]);
    clock.advance(251);
    expect(fired).toEqual(['tick@100', 'once@150', 'tick@200', 'tick@300']);
    repeating.cancel();
    clock.advance(1_000);
    expect(fired).toHaveLength(4);
  });

  it('a repeating callback that cancels itself runs no more', () => {
    const clock = new ManualClock(0);
    let runs = 0;
    const repeating = setRepeating(clock, () => {
      if (++runs === 2) repeating.cancel();
    }, 10);
    clock.advance(100);
    expect(runs).toBe(2);
  });

  it('delay resolves after its time on the clock, or at once when its signal aborts', async () => {
    const clock = new ManualClock(0);
    let isDone = false;
    const waiting = delay(clock, 50).then(() => (isDone = true));
    clock.advance(49);
    await Promise.resolve();
    expect(isDone).toBe(false);
    clock.advance(1);
    await waiting;
    const controller = new AbortController();
    const aborted = delay(clock, 1_000_000, { signal: controller.signal });
    controller.abort();
    await aborted;
    await delay(clock, 5, { signal: controller.signal }); // already aborted: resolves at once
  });
});

describe('systemClock', () => {
  // In a process of its own (the compiled module, as the CLI tests run it), with nothing else to keep it running.
  const run = (keepsProcessAlive: boolean) =>
    spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { systemClock } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist/src/core/clock.js')).href)});
         systemClock.setTimeout(() => console.log('fired'), 50, { keepsProcessAlive: ${keepsProcessAlive} });`,
      ],
      { encoding: 'utf8' },
    );

  it('a timer that keeps the process alive fires before the process exits; by default the process does not wait for it', () => {
    const kept = run(true);
    expect(kept.stderr).toBe('');
    expect(kept.stdout).toBe('fired\n');
    const unkept = run(false);
    expect(unkept.stderr).toBe('');
    expect(unkept.stdout).toBe('');
  });
});
