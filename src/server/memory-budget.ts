import { assert } from '../core/assert.js';
import { MemoryBudgetExhaustedError } from '../core/errors.js';

/**
 * The server's one memory budget (server setting memoryBudgetBytes): every byte a client can make
 * the server hold is counted here, summed over all connections and streams, so that no mix of
 * clients, however many or however slow, takes the process past it.
 *
 * Two kinds of hold:
 * - A reservation is taken when a connection or stream opens and kept until it closes: what the
 *   peer can make the server hold before any handler decides anything (HTTP/2 windows, a request
 *   being assembled: see admission-gate.ts), plus each stream's own minimum, so that every admitted
 *   stream can always make progress (one response in flight, one request being appended). When a
 *   reservation does not fit, the connection or stream is refused with MEMORY_BUDGET_EXHAUSTED
 *   (RESOURCE_EXHAUSTED, retriable) and nothing else changes.
 * - Beyond its reservation, a share borrows from what the reservations leave, up to its own cap
 *   (subscriptionBufferBytes, the in-flight bytes of a produce stream) and to a fair part of the
 *   pool: the borrowable bytes divided by the shares that borrow. A share that cannot borrow waits
 *   (a subscription stops reading the log, a produce stream stops reading requests, and HTTP/2 flow
 *   control pushes back on the client): more streams mean smaller shares, not refusals.
 *
 * Borrowing may take at most half of the budget, so that what non-reading clients keep borrowed
 * (they never give it back until they read or go) never leaves less than half for the reservations
 * of new streams. reservations + borrowed <= limitBytes always holds for what was asked for; a read
 * may come back larger than asked (a single batch is served whole, up to max.message.bytes), and the
 * share holds and counts that excess too (`add`), so the total can pass the limit by such excesses.
 *
 * Single-threaded: every method runs to completion; waiters are granted in the order they asked,
 * skipping those that still do not fit.
 */
export class MemoryBudget {
  private reservedTotalBytes = 0;
  private borrowedTotalBytes = 0;
  private borrowerCount = 0;
  private readonly sharesWithWaiters = new Set<MemoryShare>();

  constructor(readonly limitBytes: number) {
    assert(Number.isInteger(limitBytes) && limitBytes >= 0, 'a memory budget is a non-negative integer of bytes');
  }

  /** Bytes held now: reservations (used or not) plus what shares borrowed beyond theirs. */
  get usedBytes(): number {
    return this.reservedTotalBytes + this.borrowedTotalBytes;
  }

  get reservedBytes(): number {
    return this.reservedTotalBytes;
  }

  get borrowedBytes(): number {
    return this.borrowedTotalBytes;
  }

  /** What all shares together may borrow now: half the budget, less if reservations take more. */
  get borrowableBytes(): number {
    return Math.max(0, Math.min(Math.floor(this.limitBytes / 2), this.limitBytes - this.reservedTotalBytes));
  }

  /**
   * Reserves `bytes` until the returned function is called (once; later calls do nothing), or throws
   * MemoryBudgetExhaustedError naming `what` if they do not fit.
   */
  reserve(bytes: number, what: string): () => void {
    const reservation = this.reserveResizable(bytes, what);
    return () => reservation.release();
  }

  /**
   * As `reserve`, for a hold that may end smaller than it started (a call whose client can send
   * nothing more): `shrinkTo` gives back all but `bytes` at once, and can never fail.
   */
  reserveResizable(bytes: number, what: string): { release(): void; shrinkTo(bytes: number): void } {
    this.takeReservation(bytes, what);
    let heldBytes = bytes;
    return {
      release: () => {
        if (heldBytes === 0) return;
        this.reservedTotalBytes -= heldBytes;
        heldBytes = 0;
        this.grantWaiters();
      },
      shrinkTo: (smallerBytes: number) => {
        assert(Number.isInteger(smallerBytes) && smallerBytes >= 0, 'a reservation is a non-negative integer of bytes');
        if (smallerBytes >= heldBytes) return;
        this.reservedTotalBytes -= heldBytes - smallerBytes;
        heldBytes = smallerBytes;
        this.grantWaiters();
      },
    };
  }

  /**
   * Opens a share that holds `reservedBytes` from now until it closes and may hold up to `maxBytes`
   * in all (borrowing beyond its reservation); throws MemoryBudgetExhaustedError if the reservation
   * does not fit.
   */
  openShare(options: { reservedBytes: number; maxBytes: number; what: string }): MemoryShare {
    assert(options.maxBytes >= options.reservedBytes, 'a share may hold at least its reservation');
    this.takeReservation(options.reservedBytes, options.what);
    return new MemoryShare(this, options.reservedBytes, options.maxBytes);
  }

  private takeReservation(bytes: number, what: string): void {
    assert(Number.isInteger(bytes) && bytes >= 0, 'a reservation is a non-negative integer of bytes');
    if (this.usedBytes + bytes > this.limitBytes) {
      throw new MemoryBudgetExhaustedError(
        `the server's memory budget is spent (${this.usedBytes} of ${this.limitBytes} bytes held: ${this.reservedTotalBytes} reserved by open connections and streams, ${this.borrowedTotalBytes} of buffered data); cannot reserve ${bytes} for ${what}: retry later`,
      );
    }
    this.reservedTotalBytes += bytes;
  }

  /** @internal Whether `share` may hold `bytes` more now. */
  canGrant(share: MemoryShare, bytes: number): boolean {
    const heldBytes = share.heldBytes + bytes;
    // Its own cap; when it holds nothing, one read may always go (a single batch can be larger).
    if (share.heldBytes > 0 && heldBytes > share.maxBytes) return false;
    const extraBorrowedBytes = Math.max(0, heldBytes - share.reservedBytes) - share.borrowedBytes;
    if (extraBorrowedBytes <= 0) return true;
    const borrowableBytes = this.borrowableBytes;
    if (this.borrowedTotalBytes + extraBorrowedBytes > borrowableBytes) return false;
    const borrowers = this.borrowerCount + (share.borrowedBytes === 0 ? 1 : 0);
    return share.borrowedBytes + extraBorrowedBytes <= Math.floor(borrowableBytes / borrowers);
  }

  /** @internal A share's held bytes changed from `fromBytes` to `toBytes`. */
  account(share: MemoryShare, fromBytes: number, toBytes: number): void {
    const borrowedBefore = Math.max(0, fromBytes - share.reservedBytes);
    const borrowedAfter = Math.max(0, toBytes - share.reservedBytes);
    this.borrowedTotalBytes += borrowedAfter - borrowedBefore;
    if (borrowedBefore === 0 && borrowedAfter > 0) this.borrowerCount++;
    if (borrowedBefore > 0 && borrowedAfter === 0) this.borrowerCount--;
  }

  /** @internal */
  closeShare(share: MemoryShare, heldBytes: number): void {
    this.account(share, heldBytes, 0);
    this.reservedTotalBytes -= share.reservedBytes;
    this.sharesWithWaiters.delete(share);
    this.grantWaiters();
  }

  /** @internal */
  setWaiting(share: MemoryShare, isWaiting: boolean): void {
    if (isWaiting) this.sharesWithWaiters.add(share);
    else this.sharesWithWaiters.delete(share);
  }

  /** @internal Bytes came back: every share with waiters grants what now fits. */
  grantWaiters(): void {
    if (this.sharesWithWaiters.size === 0) return;
    for (const share of [...this.sharesWithWaiters]) share.grantWaiters();
  }
}

interface Waiter {
  bytes: number;
  grant: (isGranted: boolean) => void;
}

/**
 * What one stream holds of the budget: its reservation, and what it borrows beyond it (see
 * MemoryBudget). `close()` gives everything back, held or not: a stream that ends drops what it had
 * queued (grpc-js does not call the write callbacks of a cancelled stream).
 */
export class MemoryShare {
  private held = 0;
  private isClosed = false;
  private readonly waiters: Waiter[] = [];

  constructor(
    private readonly budget: MemoryBudget,
    readonly reservedBytes: number,
    readonly maxBytes: number,
  ) {}

  get heldBytes(): number {
    return this.held;
  }

  get borrowedBytes(): number {
    return Math.max(0, this.held - this.reservedBytes);
  }

  /** Holds `bytes` if they fit now (nothing waits ahead of it); false otherwise, holding nothing. */
  tryAcquire(bytes: number): boolean {
    if (this.isClosed || this.waiters.length > 0 || !this.budget.canGrant(this, bytes)) return false;
    this.setHeld(this.held + bytes);
    return true;
  }

  /** Holds `bytes` once they fit; false if `signal` aborted or the share closed first (nothing held then). */
  acquire(bytes: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted || this.isClosed) return Promise.resolve(false);
    if (this.tryAcquire(bytes)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        bytes,
        grant: (isGranted) => {
          signal.removeEventListener('abort', onAbort);
          resolve(isGranted);
        },
      };
      const onAbort = () => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        if (this.waiters.length === 0) this.budget.setWaiting(this, false);
        resolve(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.budget.setWaiting(this, true);
    });
  }

  /** Holds `bytes` whether or not they fit: bytes already in memory (a read larger than asked). */
  add(bytes: number): void {
    if (this.isClosed) return;
    this.setHeld(this.held + bytes);
  }

  release(bytes: number): void {
    if (this.isClosed) return;
    assert(bytes <= this.held, 'a share releases only what it holds');
    this.setHeld(this.held - bytes);
    this.grantWaiters();
    this.budget.grantWaiters();
  }

  /** Turns a hold of `fromBytes` into one of `toBytes` (a read that came back smaller or larger). */
  resize(fromBytes: number, toBytes: number): void {
    if (toBytes >= fromBytes) this.add(toBytes - fromBytes);
    else this.release(fromBytes - toBytes);
  }

  /** Gives back the reservation and everything held; waiters get false. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const held = this.held;
    this.held = 0;
    for (const waiter of this.waiters.splice(0)) waiter.grant(false);
    this.budget.closeShare(this, held);
  }

  /** @internal Grants the waiters that fit now, in order (one that does not fit waits; later ones may go). */
  grantWaiters(): void {
    if (this.waiters.length === 0) return;
    for (let i = 0; i < this.waiters.length; ) {
      const waiter = this.waiters[i]!;
      if (!this.budget.canGrant(this, waiter.bytes)) {
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      this.setHeld(this.held + waiter.bytes);
      waiter.grant(true);
    }
    if (this.waiters.length === 0) this.budget.setWaiting(this, false);
  }

  private setHeld(bytes: number): void {
    this.budget.account(this, this.held, bytes);
    this.held = bytes;
  }
}
