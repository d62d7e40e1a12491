import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_QUEUE_UNANSWERED_BYTES_PER_MEMBER, QUEUE_SESSION_BUFFER_MAX_BYTES, RESPONSE_COPIES } from '../../src/core/limits.js';
import type { QueueServiceClient } from '../../src/generated/strata/v1/QueueService.js';
import { eventually } from '../helpers/eventually.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { ack, rawQueueClient, RawQueueSession, rawUnary } from '../helpers/raw-queue-session.js';

const CHILD = fileURLToPath(new URL('../../dist/test/integration/queue-member-child.js', import.meta.url));
const RECORD_BYTES = 256 * 1024;
const RECORDS = 160; // 40 MiB: what an unbounded server would push at a member that does not read

describe('a queue member that does not read', () => {
  const inFlightOf = async (groupId: string) => Number((await rawUnary(queue.describeQueueGroup.bind(queue), { groupId })).total!.inFlight);
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

  // A grpc-js client that pauses its stream still takes what arrives into its process (its HTTP/2
  // layer keeps acknowledging data), so the server's writes all complete: only the member's cap of
  // unanswered bytes stops the deliveries (without it: all 160 records acquired and sent).
  it('whose client pauses its stream gets no more than its cap of unanswered bytes, and every record once it reads again', async () => {
    const idleBytes = server.server.memoryBudget.usedBytes;
    const member = new RawQueueSession(queue, { paused: true });
    try {
      member.send({ join: { groupId: 'paused', topics: ['big'], inFlightLimit: RECORDS } });
      const inFlight = () => inFlightOf('paused');
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
      expect(Number((await rawUnary(queue.describeQueueGroup.bind(queue), { groupId: 'paused' })).total!.depth)).toBe(0);
    } finally {
      member.close();
    }
  }, 120_000);

  // A member process stopped dead (SIGSTOP) reads nothing, down to its socket: the server's writes
  // stop completing once the HTTP/2 window and the socket buffers are full, and what the session holds
  // unsent stays within its share of the memory budget.
  it('whose process is stopped costs the server no more than its session share, and gets every record after SIGCONT', async () => {
    const idleBytes = server.server.memoryBudget.usedBytes;
    const child = spawn(process.execPath, [CHILD, server.address, 'stopped', 'big', String(RECORDS), String(RECORDS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines: Array<{ event: string; count?: number; distinct?: number }> = [];
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line)));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await eventually(() => lines.some((l) => l.event === 'stopping'), { what: 'the member joined and stopped', timeoutMs: 30_000 });
      await eventually(async () => (await inFlightOf('stopped')) > 0, { what: 'the first deliveries' });
      // Deliberate: the stall under test, long enough for an unbounded server to acquire and queue all.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const heldWhileStopped = await inFlightOf('stopped');
      const budgetWhileStopped = server.server.memoryBudget.usedBytes - idleBytes;
      // The session's share counts each delivery twice (RESPONSE_COPIES): it pauses the member at
      // half its bytes of batches, one delivery (up to 4 records here) past it; below the member's cap.
      expect(heldWhileStopped).toBeLessThanOrEqual(QUEUE_SESSION_BUFFER_MAX_BYTES / (RESPONSE_COPIES * RECORD_BYTES) + 4);
      expect(budgetWhileStopped).toBeLessThanOrEqual(QUEUE_SESSION_BUFFER_MAX_BYTES + 4 * 1024 * 1024);
      child.kill('SIGCONT');
      await eventually(() => lines.some((l) => l.event === 'done'), { what: `the member done (stderr: ${stderr})`, timeoutMs: 60_000 });
      expect(lines.find((l) => l.event === 'done')).toMatchObject({ count: RECORDS, distinct: RECORDS });
      await exited;
    } finally {
      child.kill('SIGKILL');
    }
  }, 120_000);
});
