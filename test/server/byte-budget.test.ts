import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../src/server/byte-budget.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ByteBudget', () => {
  it('holds what fits, makes the rest wait until bytes come back, and always lets one read go when nothing is held', async () => {
    const budget = new ByteBudget(100);
    const signal = new AbortController().signal;
    expect(await budget.acquire(60, signal)).toBe(true);
    let second = false;
    const waiting = budget.acquire(60, signal).then((held) => (second = held));
    await tick();
    expect(second).toBe(false);
    budget.resize(60, 30); // the first read came back smaller: 30 + 60 fits
    await waiting;
    expect(second).toBe(true);
    expect(budget.usedBytes).toBe(90);
    budget.release(90);
    // Nothing held: a read larger than the whole budget still goes (one batch may be that large).
    expect(await budget.acquire(500, signal)).toBe(true);
  });

  it('gives up without holding anything when its signal aborts', async () => {
    const budget = new ByteBudget(100);
    const controller = new AbortController();
    await budget.acquire(100, controller.signal);
    const waiting = budget.acquire(1, controller.signal);
    controller.abort();
    expect(await waiting).toBe(false);
    expect(budget.usedBytes).toBe(100);
  });
});
