import { describe, expect, it } from 'vitest';
import { eventually } from './eventually.js';

describe('eventually', () => {
  it('retries through false answers and failed assertions, and returns the first real value', async () => {
    let tries = 0;
    const value = await eventually(
      () => {
        tries++;
        if (tries === 1) return false;
        expect(tries).toBeGreaterThan(2);
        return tries;
      },
      { what: 'the third try', intervalMs: 1 },
    );
    expect(value).toBe(3);
  });

  it('fails after the deadline, naming what it waited for and the last answer', async () => {
    await expect(eventually(() => { throw new Error('not yet'); }, { what: 'a thing that never happens', timeoutMs: 30, intervalMs: 5 })).rejects.toThrow(
      /timed out after 30 ms waiting for a thing that never happens \(last: not yet\)/,
    );
  });
});
