import { describe, expect, it } from 'vitest';
import { MemoryBudgetExhaustedError } from '../../src/core/errors.js';
import { MemoryBudget } from '../../src/server/memory-budget.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));
const never = new AbortController().signal;

describe('MemoryBudget', () => {
  it('shrinks a resizable reservation to what is left to hold, and releases the rest only once', () => {
    const budget = new MemoryBudget(100);
    const call = budget.reserveResizable(80, 'a call');
    expect(() => budget.reserve(30, 'another call')).toThrow(MemoryBudgetExhaustedError);
    call.shrinkTo(10);
    call.shrinkTo(50); // never grows back
    expect(budget.reservedBytes).toBe(10);
    budget.reserve(90, 'another call');
    call.release();
    call.release();
    expect(budget.reservedBytes).toBe(90);
  });

  it('refuses a reservation that does not fit with MEMORY_BUDGET_EXHAUSTED (retriable), and admits again once one is released', () => {
    const budget = new MemoryBudget(100);
    const releaseFirst = budget.reserve(60, 'a call');
    expect(() => budget.reserve(50, 'a call from 10.0.0.1')).toThrow(MemoryBudgetExhaustedError);
    try {
      budget.reserve(50, 'a call from 10.0.0.1');
    } catch (error) {
      expect(error).toMatchObject({ code: 'MEMORY_BUDGET_EXHAUSTED', retriable: true });
      expect((error as Error).message).toContain('a call from 10.0.0.1');
    }
    expect(budget.usedBytes).toBe(60);
    releaseFirst();
    releaseFirst(); // twice changes nothing
    expect(budget.usedBytes).toBe(0);
    budget.reserve(100, 'a call');
    expect(budget.usedBytes).toBe(100);
  });

  it('lets a share hold its reservation, and always one read when it holds nothing, even with the pool spent', async () => {
    const budget = new MemoryBudget(100);
    budget.reserve(80, 'others'); // borrowable: min(50, 20) = 20
    const share = budget.openShare({ reservedBytes: 10, maxBytes: 1000, what: 'a subscription' });
    expect(share.tryAcquire(10)).toBe(true);
    expect(share.tryAcquire(15)).toBe(false); // 15 more would borrow 15 of the 10 left
    expect(share.tryAcquire(10)).toBe(true); // borrows 10: everything is used
    expect(budget.usedBytes).toBe(100);
    expect(share.tryAcquire(1)).toBe(false);
    share.release(20);
    // Holding nothing, one read goes even if larger than the share's reservation, when the pool has it.
    expect(share.tryAcquire(20)).toBe(true);
    share.close();
    expect(budget.usedBytes).toBe(80);
  });

  it('never lets borrowing take more than half the budget, so new streams always find room to reserve', () => {
    const budget = new MemoryBudget(1000);
    const greedy = budget.openShare({ reservedBytes: 0, maxBytes: 10_000, what: 'a greedy share' });
    expect(greedy.tryAcquire(500)).toBe(true);
    expect(greedy.tryAcquire(1)).toBe(false);
    expect(budget.borrowedBytes).toBe(500);
    // The other half is for reservations.
    for (let i = 0; i < 5; i++) budget.reserve(100, 'a call');
    expect(() => budget.reserve(1, 'a call')).toThrow(MemoryBudgetExhaustedError);
    expect(budget.usedBytes).toBe(1000);
  });

  it('shares the pool fairly: a second borrower gets half, and a newcomer waits for the first to give back', async () => {
    const budget = new MemoryBudget(400); // borrowable: 200
    const first = budget.openShare({ reservedBytes: 0, maxBytes: 1000, what: 'first' });
    const second = budget.openShare({ reservedBytes: 0, maxBytes: 1000, what: 'second' });
    expect(first.tryAcquire(150)).toBe(true); // alone it may borrow all 200
    expect(second.tryAcquire(100)).toBe(false); // two borrowers: 100 each, but only 50 are left
    expect(second.tryAcquire(50)).toBe(true);
    let isGranted = false;
    const waiting = second.acquire(50, never).then((granted) => (isGranted = granted));
    await tick();
    expect(isGranted).toBe(false);
    first.release(100); // first holds 50: the pool has 100 free, second's fair part is 100
    await waiting;
    expect(isGranted).toBe(true);
    expect(second.heldBytes).toBe(100);
    // first may not grow past its fair part (100) while second borrows.
    expect(first.tryAcquire(60)).toBe(false);
    expect(first.tryAcquire(50)).toBe(true);
    expect(budget.borrowedBytes).toBe(200);
  });

  it('keeps a share to its own cap, except one read when it holds nothing (a batch larger than the cap)', async () => {
    const budget = new MemoryBudget(10_000);
    const share = budget.openShare({ reservedBytes: 100, maxBytes: 100, what: 'a subscription' });
    expect(await share.acquire(60, never)).toBe(true);
    let isGranted = false;
    const waiting = share.acquire(60, never).then((granted) => (isGranted = granted));
    await tick();
    expect(isGranted).toBe(false);
    share.resize(60, 30); // the first read came back smaller: 30 + 60 fits
    await waiting;
    expect(isGranted).toBe(true);
    expect(share.heldBytes).toBe(90);
    share.release(90);
    expect(await share.acquire(500, never)).toBe(true);
    // A read larger than asked is held and counted whatever it costs.
    share.add(20_000);
    expect(budget.usedBytes).toBe(500 + 20_000);
    share.close();
    expect(budget.usedBytes).toBe(0);
  });

  it('gives up a wait without holding anything when its signal aborts or its share closes', async () => {
    const budget = new MemoryBudget(100);
    const share = budget.openShare({ reservedBytes: 10, maxBytes: 10, what: 'a share' });
    await share.acquire(10, never);
    const controller = new AbortController();
    const aborted = share.acquire(5, controller.signal);
    controller.abort();
    expect(await aborted).toBe(false);
    const closed = share.acquire(5, never);
    share.close();
    expect(await closed).toBe(false);
    expect(budget.usedBytes).toBe(0);
    expect(await share.acquire(1, never)).toBe(false);
    share.release(10); // after close: nothing to give back, nothing changes
    expect(budget.usedBytes).toBe(0);
  });

  it('wakes a waiter of one share when another share gives bytes back to the pool', async () => {
    const budget = new MemoryBudget(200); // borrowable: 100
    const holder = budget.openShare({ reservedBytes: 0, maxBytes: 1000, what: 'holder' });
    const waiter = budget.openShare({ reservedBytes: 0, maxBytes: 1000, what: 'waiter' });
    expect(holder.tryAcquire(100)).toBe(true);
    const waiting = waiter.acquire(40, never);
    await tick();
    holder.close();
    expect(await waiting).toBe(true);
    expect(budget.usedBytes).toBe(40);
  });

  it('keeps reserved + borrowed within the limit through a random run of opens, acquires, releases and closes', async () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const budget = new MemoryBudget(10_000);
    const open: Array<{ share: ReturnType<MemoryBudget['openShare']>; held: number[] }> = [];
    for (let step = 0; step < 5_000; step++) {
      const choice = random();
      if (choice < 0.15) {
        try {
          open.push({ share: budget.openShare({ reservedBytes: Math.floor(random() * 500), maxBytes: 3_000, what: 'random' }), held: [] });
        } catch (error) {
          expect(error).toBeInstanceOf(MemoryBudgetExhaustedError);
        }
      } else if (choice < 0.6 && open.length > 0) {
        const entry = open[Math.floor(random() * open.length)]!;
        const bytes = 1 + Math.floor(random() * 400);
        // Asked only with something held: "one read when nothing is held" may pass the limit by design.
        if (entry.share.heldBytes > 0 && entry.share.tryAcquire(bytes)) entry.held.push(bytes);
        else if (entry.share.heldBytes === 0 && bytes <= entry.share.reservedBytes && entry.share.tryAcquire(bytes)) entry.held.push(bytes);
      } else if (choice < 0.9 && open.length > 0) {
        const entry = open[Math.floor(random() * open.length)]!;
        const bytes = entry.held.pop();
        if (bytes !== undefined) entry.share.release(bytes);
      } else if (open.length > 0) {
        open.splice(Math.floor(random() * open.length), 1)[0]!.share.close();
      }
      expect(budget.usedBytes).toBeLessThanOrEqual(budget.limitBytes);
      expect(budget.borrowedBytes).toBeLessThanOrEqual(budget.limitBytes / 2);
      expect(budget.usedBytes).toBe(open.reduce((sum, e) => sum + Math.max(e.share.reservedBytes, e.share.heldBytes), 0));
    }
    for (const entry of open) entry.share.close();
    expect(budget.usedBytes).toBe(0);
    expect(budget.borrowedBytes).toBe(0);
  });
});
