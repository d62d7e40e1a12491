import { Buffer } from 'node:buffer';
/**
 * Buffers of settled batches, reused for new ones. A producer's batch is a batchBytes buffer outside
 * the JS heap, and the churn of such buffers is what makes V8 collect most often (reuse cut the full
 * collections by about 40 %: bench/history/2026-11-30-sessions-1-6.md, "Session 4").
 *
 * Only buffers this pool allocated, whole, come back: a batch's buffer is returned once the batch
 * settled (acknowledged or failed for good), when grpc-js has long copied its bytes into a frame.
 * At most `maxFreeBytes` are kept.
 */
export class BatchBufferPool {
  private readonly free: Buffer[] = [];
  /** The whole-batch buffers allocated here: only those are ever reused. */
  private readonly own = new WeakSet<ArrayBufferLike>();

  constructor(
    private readonly batchBytes: number,
    private readonly maxFreeBytes: number,
  ) {}

  /** A buffer of `sizeBytes` (for RecordBatchBuilder): a reused one when it is a whole batch. */
  readonly allocate = (sizeBytes: number): Buffer => {
    if (sizeBytes !== this.batchBytes) return Buffer.allocUnsafe(sizeBytes);
    const reused = this.free.pop();
    if (reused) return reused;
    // Slow: never a slice of Node's shared pool, so the whole ArrayBuffer is this batch's alone.
    const buffer = Buffer.allocUnsafeSlow(sizeBytes);
    this.own.add(buffer.buffer);
    return buffer;
  };

  /** Takes back the buffer under a settled batch's bytes (or one a builder let go), if it is one of this pool's. */
  readonly recycle = (encoded: Buffer): void => {
    if (!this.own.has(encoded.buffer)) return;
    if ((this.free.length + 1) * this.batchBytes > this.maxFreeBytes) return;
    this.free.push(Buffer.from(encoded.buffer, 0, this.batchBytes));
  };

  get freeCount(): number {
    return this.free.length;
  }
}
