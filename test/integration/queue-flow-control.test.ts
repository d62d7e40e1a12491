import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_QUEUE_UNANSWERED_BYTES_PER_MEMBER, QUEUE_SESSION_BUFFER_MAX_BYTES } from '../../src/core/limits.js';
import type { QueueServiceClient } from '../../src/generated/strata/v1/QueueService.js';
import { eventually } from '../helpers/eventually.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { ack, rawQueueClient, RawQueueSession, rawUnary } from '../helpers/raw-queue-session.js';

const RECORD_BYTES = 256 * 1024;
const RECORDS = 160; // 40 MiB: what an unbounded server would push at a member that does not read

describe('a queue member that does not read', () => {
  const server = useInProcessServer();
  let queue: QueueServiceClient;
  beforeAll(async () => {
    // The client's HTTP/2 window at its minimum, so that a member that stops reading is felt at once.
    queue = rawQueueClient(server.address, { 'grpc-node.flow_control_window': 65_535 });
    await server.client.admin.createTopic('big', { partitions: 1, config: { flush: 'interval' } });
    const producer = server.client.producer();
    // One record per batch: each delivery then carries one record's batch, as for independent jobs.
    for (let i = 0; i < RECORDS; i++) await producer.send('big', { value: Buffer.alloc(RECORD_BYTES, i % 251) });
    await producer.close();
  });
  afterAll(() => queue?.close());

  it('stops being sent deliveries (server memory stays bounded) and gets every record once it reads again', async () => {
    const idleBytes = server.server.memoryBudget.usedBytes;
    const member = new RawQueueSession(queue, { paused: true });
    try {
      member.send({ join: { groupId: 'slow', topics: ['big'], inFlightLimit: RECORDS } });
      const inFlight = async () => Number((await rawUnary(queue.describeQueueGroup.bind(queue), { groupId: 'slow' })).total!.inFlight);
      await eventually(async () => (await inFlight()) > 0, { what: 'the first deliveries' });
      // Deliberate: the stall under test, long enough for an unbounded server to acquire and send all.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const heldWhileStalled = await inFlight();
      const budgetWhileStalled = server.server.memoryBudget.usedBytes - idleBytes;
      // Its unanswered bytes' cap, and one delivery (up to 1 MiB of batches) past it: a small part of
      // the 160 records its in-flight limit allows, and of their 40 MiB.
      expect(heldWhileStalled).toBeLessThanOrEqual(MAX_QUEUE_UNANSWERED_BYTES_PER_MEMBER / RECORD_BYTES + 4);
      expect(budgetWhileStalled).toBeLessThanOrEqual(QUEUE_SESSION_BUFFER_MAX_BYTES + 4 * 1024 * 1024);

      // Reading again, and answering what it reads (a member holds at most its cap unanswered), it
      // gets every record, once.
      member.call.resume();
      let answered = 0;
      while (answered < RECORDS) {
        const delivered = await member.waitForDeliveries(answered + 1, 30_000);
        const batch = delivered.slice(answered);
        const results = await member.answer(batch.map(ack));
        expect(results.results.every((r) => r.failure === null)).toBe(true);
        answered += batch.length;
      }
      expect(new Set(member.delivered.map((r) => r.offset)).size).toBe(RECORDS);
      expect(member.delivered.every((r) => r.deliveryCount === 1 && r.record.value!.length === RECORD_BYTES)).toBe(true);
      expect(Number((await rawUnary(queue.describeQueueGroup.bind(queue), { groupId: 'slow' })).total!.depth)).toBe(0);
    } finally {
      member.close();
    }
  }, 120_000);
});
