import { AssertionError } from '../core/assert.js';

/** A stored batch of the window, by its offsets (both inclusive) and size: what a delivery sends. */
export interface WindowBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly sizeBytes: number;
  /** Its stored bytes while the window holds them; undefined: a delivery reads them from the log. */
  readonly bytes: Buffer | undefined;
}

/** The server's bound on held batch bytes, shared by every partition of every queue group. */
export class HeldBatchBudget {
  usedBytes = 0;

  constructor(readonly maxBytes: number) {}

  tryHold(bytes: number): boolean {
    if (this.usedBytes + bytes > this.maxBytes) return false;
    this.usedBytes += bytes;
    return true;
  }

  release(bytes: number): void {
    this.usedBytes -= bytes;
    if (this.usedBytes < 0) throw new AssertionError(`held queue batches would use ${this.usedBytes} bytes`);
  }
}

export interface HeldBatchLimits {
  budget: HeldBatchBudget;
  maxBytesPerPartition: number;
}

interface Entry extends WindowBatch {
  bytes: Buffer | undefined;
  /** The window records this entry covers: [firstOffset, endOffset) (a batch cut by the window's room is added again for its rest). */
  readonly firstOffset: number;
  readonly endOffset: number;
  /** Records of [firstOffset, endOffset) not done yet: at 0 the bytes go. */
  notDone: number;
}

/**
 * The batches a partition window was filled from, in offset order, each with its stored bytes while
 * any of its window records is not done (bounded: `limits`, per partition and per server). A batch
 * whose bytes did not fit is kept by its offsets only; a delivery of it reads the log (as one of a
 * batch dropped and read again after a restart does).
 */
export class WindowBatches {
  private entries: Entry[] = [];
  private heldBytesCount = 0;

  constructor(private readonly limits: HeldBatchLimits | undefined) {}

  /** Bytes this partition holds now. */
  get heldBytes(): number {
    return this.heldBytesCount;
  }

  /**
   * Adds `batch` for the window records [firstOffset, endOffset), `notDone` of which are not done;
   * `bytes` (the stored batch, a view of a log read) is copied and held if the bounds allow, so the
   * read's buffer is not kept alive by it.
   */
  add(batch: { baseOffset: number; lastOffset: number; sizeBytes: number }, firstOffset: number, endOffset: number, notDone: number, bytes?: Buffer): void {
    let held: Buffer | undefined;
    if (bytes && notDone > 0 && this.limits && this.heldBytesCount + batch.sizeBytes <= this.limits.maxBytesPerPartition && this.limits.budget.tryHold(batch.sizeBytes)) {
      held = Buffer.from(bytes);
      this.heldBytesCount += batch.sizeBytes;
    }
    this.entries.push({ baseOffset: batch.baseOffset, lastOffset: batch.lastOffset, sizeBytes: batch.sizeBytes, bytes: held, firstOffset, endOffset, notDone });
  }

  /** The batch holding window record `offset`, if any (binary search). */
  batchOf(offset: number): WindowBatch | undefined {
    return this.find(offset);
  }

  /** A window record became done: its batch's bytes go once none of its records is left to deliver. */
  onDone(offset: number): void {
    const entry = this.find(offset);
    if (!entry) return;
    entry.notDone--;
    if (entry.notDone <= 0) this.dropBytes(entry);
  }

  /** Entries wholly below `startOffset` (done) go. */
  cutBelow(startOffset: number): void {
    let cut = 0;
    while (cut < this.entries.length && this.entries[cut]!.endOffset <= startOffset) this.dropBytes(this.entries[cut++]!);
    if (cut > 0) this.entries = this.entries.slice(cut);
  }

  clear(): void {
    this.releaseBytes();
    this.entries = [];
  }

  /** Lets go of every held byte, keeping the batches' offsets (their deliveries read the log). */
  releaseBytes(): void {
    for (const entry of this.entries) this.dropBytes(entry);
  }

  private dropBytes(entry: Entry): void {
    if (!entry.bytes) return;
    entry.bytes = undefined;
    this.heldBytesCount -= entry.sizeBytes;
    this.limits!.budget.release(entry.sizeBytes);
  }

  private find(offset: number): Entry | undefined {
    let low = 0;
    let high = this.entries.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const entry = this.entries[mid]!;
      if (offset < entry.firstOffset) high = mid - 1;
      else if (offset >= entry.endOffset) low = mid + 1;
      else return entry;
    }
    return undefined;
  }
}
