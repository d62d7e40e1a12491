import type { ConsumedRecord } from './consume.js';
import type { GroupIteratorHost } from './group-record-iterator.js';
import { MAX_MS_BETWEEN_YIELDS, yieldToEventLoop } from './yield-to-event-loop.js';

/** What the batch iteration needs of its group member, beyond what the record iterator does. */
export interface GroupBatchHost extends Omit<GroupIteratorHost, 'handOne'> {
  /** Lets go of every partition if the member may have been removed from its group. */
  checkSession(nowMs: number): void;
  /** The records of `records` still this member's to hand out, handed to the loop (none: nothing handed). */
  handBatch(records: ConsumedRecord[]): ConsumedRecord[];
}

/**
 * A group member's records in batches (GroupConsumer.batches): each batch holds what has arrived, at
 * least one record and at most `maxRecords`, and counts as processed once the loop asks for the next.
 * Ending (a break, a throw, the member closing or failing) closes the member.
 */
export async function* groupBatches(host: GroupBatchHost, maxRecords: number): AsyncGenerator<ConsumedRecord[]> {
  try {
    let yieldedAtMs = host.clock.nowMs();
    for (;;) {
      host.beforeNext(host.clock.nowMs());
      if (host.clock.nowMs() - yieldedAtMs >= MAX_MS_BETWEEN_YIELDS) {
        // As the record iterator: a turn of the event loop now and then, for timers and I/O.
        await yieldToEventLoop();
        yieldedAtMs = host.clock.nowMs();
        host.checkSession(yieldedAtMs);
      }
      const first = await host.buffer.take();
      if (first === undefined) {
        const failure = host.failure();
        if (failure) throw failure;
        return;
      }
      const batch = host.handBatch([first, ...host.buffer.takeAvailable(maxRecords - 1)]);
      if (batch.length === 0) continue;
      yield batch;
    }
  } finally {
    await host.close();
  }
}
