/**
 * RabbitMQ quorum queues as the queue peer: a durable quorum queue (x-queue-type quorum, which
 * fsyncs its Raft log before confirming) filled with persistent messages through a confirm channel,
 * drained by N consumers, each on its own connection and channel with a prefetch of the case's
 * in-flight limit and manual acks, one basic.ack per message (multiple = false). AMQP acks
 * have no reply, so closing the channels (close-ok comes after everything before it on the channel)
 * is inside the clock. Even so, RabbitMQ 3.10 returned a few acked messages to the queue after the
 * channels closed (19-114 of 100,000 in loaded runs, never redelivered before the close): those
 * count as not acknowledged, and the case's note says how many.
 */
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { VALUE, measureDrain, type DrainCase, type DrainResult } from './drain-result.js';
import type { RabbitMqNode } from './rabbitmq-server.js';

const FILL_CONFIRMS_IN_FLIGHT = 2_000;

async function fillQueue(model: ChannelModel, queue: string, records: number): Promise<void> {
  const channel = await model.createConfirmChannel();
  try {
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    let outstanding = 0;
    let firstError: unknown;
    let wake: (() => void) | undefined;
    for (let sent = 0; sent < records; sent++) {
      outstanding++;
      // The message id is its number in the backlog, so that the consumers can tell a redelivery.
      const isWritable = channel.sendToQueue(queue, VALUE, { persistent: true, messageId: String(sent) }, (error) => {
        if (error) firstError ??= error;
        outstanding--;
        if (outstanding <= FILL_CONFIRMS_IN_FLIGHT / 2) wake?.();
      });
      if (!isWritable) await new Promise<void>((resolve) => channel.once('drain', () => resolve()));
      if (outstanding >= FILL_CONFIRMS_IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    await channel.waitForConfirms();
    if (firstError) throw new Error(`RabbitMQ refused a message of the backlog: ${String(firstError)}`);
  } finally {
    await channel.close();
  }
}

/** One case: a new quorum queue of `backlog` messages drained by `consumers` consumers; deleted after. */
export async function measureRabbitDrain(node: RabbitMqNode, drainCase: DrainCase): Promise<DrainResult> {
  const { consumers, backlog } = drainCase;
  const admin = await connect(node.url);
  const queue = `bench-${drainCase.name}`;
  try {
    await fillQueue(admin, queue, backlog);
    const models = await Promise.all(Array.from({ length: consumers }, () => connect(node.url)));
    const channels: Channel[] = [];
    for (const model of models) {
      const channel = await model.createChannel();
      await channel.prefetch(drainCase.inFlight);
      channels.push(channel);
    }
    let redeliveries = 0;
    const result = await measureDrain('RabbitMQ quorum queue', drainCase, node.serverPid, async (counters) => {
      let acksSent = 0;
      let firstAcks = 0;
      const seen = new Uint8Array(backlog);
      for (const channel of channels) {
        channel.on('error', (error: unknown) => {
          counters.failed(error);
          counters.stop();
        });
        await channel.consume(
          queue,
          (message: ConsumeMessage | null) => {
            if (message === null) return; // cancelled by the broker
            counters.delivered(message.content);
            channel.ack(message);
            acksSent++;
            const id = Number(message.properties.messageId);
            if (seen[id] === 0) {
              seen[id] = 1;
              firstAcks++;
            } else redeliveries++;
            // The clock stops at the channels' close-ok below, not here: this only says every ack is out.
            if (firstAcks >= backlog) counters.stop();
          },
          { noAck: false },
        );
      }
      return {
        closeIsPartOfTheWork: true,
        close: async () => {
          await Promise.all(channels.map((channel) => channel.close()));
          counters.acked(firstAcks);
        },
      };
    });
    await Promise.all(models.map((model) => model.close()));
    // A quorum queue applies settlements and returns through its Raft log after the channel's
    // close-ok: the count moves for a moment. Polled (outside the clock) until it holds still for 0.5 s (5 s at most).
    const check = await admin.createChannel();
    let messageCount = (await check.checkQueue(queue)).messageCount;
    for (let stableSinceMs = performance.now(), pollUntilMs = stableSinceMs + 5_000; performance.now() < pollUntilMs && performance.now() - stableSinceMs < 500; ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const count = (await check.checkQueue(queue)).messageCount;
      if (count !== messageCount) [messageCount, stableSinceMs] = [count, performance.now()];
    }
    const notes = result.note ? [result.note] : [];
    if (redeliveries > 0) notes.push(`${redeliveries} messages delivered again (and acked again)`);
    if (messageCount !== 0) {
      const acknowledged = Math.max(0, result.acknowledged - messageCount);
      const scale = result.acknowledged / Math.max(1, acknowledged);
      Object.assign(result, {
        acknowledged,
        recordsPerSec: acknowledged / result.seconds,
        clientCpuUsPerRecord: result.clientCpuUsPerRecord * scale,
        serverCpuUsPerRecord: result.serverCpuUsPerRecord * scale,
      });
      notes.push(`${messageCount} acked messages were back in the queue after the channels closed (not counted as acknowledged)`);
    }
    if (notes.length > 0) result.note = notes.join('; ');
    await check.deleteQueue(queue);
    await check.close();
    return result;
  } finally {
    await admin.close();
  }
}
