import { Readable } from 'node:stream';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';

/**
 * A fake Subscribe call for a client stub: partition 0 from its start offset, batches of
 * `recordsPerBatch` records (values `r<offset>`) for as long as the reader reads.
 */
export function endlessSubscribe(recordsPerBatch: number) {
  return (request: { startOffsets: Record<number, number> }) => {
    let next = Number(request.startOffsets[0] ?? 0);
    const call = new Readable({
      objectMode: true,
      read() {
        const records = encodeRecordBatch(Array.from({ length: recordsPerBatch }, (_, i) => ({ value: `r${next + i}` })), { baseOffset: next });
        this.push({ partition: 0, fetchOffset: next, nextOffset: next + recordsPerBatch, records });
        next += recordsPerBatch;
      },
    }) as Readable & { cancel(): void };
    call.cancel = () => call.destroy();
    return call;
  };
}
