import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADERS } from '../../../../src/core/dead-letter-headers.js';
import { CONSOLE_LIMITS } from '../../../../src/server/http/console/console-limits.js';
import { httpCall } from '../../../helpers/http-call.js';
import { useInProcessServer } from '../../../helpers/in-process-server.js';

const getJson = async (port: number, path: string) => {
  const answer = await httpCall(port, 'GET', path);
  return { status: answer.status, body: JSON.parse(answer.body) as Record<string, any> };
};
const postJson = async (port: number, path: string, body: unknown, method = 'POST') => {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const answer = await httpCall(port, method, path, text, text === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  return { status: answer.status, body: JSON.parse(answer.body) as Record<string, any> };
};

function deadLetterHeaders(source: { topic: string; partition: number; offset: number }): Record<string, string> {
  return {
    [DEAD_LETTER_HEADERS.sourceTopic]: source.topic,
    [DEAD_LETTER_HEADERS.sourcePartition]: String(source.partition),
    [DEAD_LETTER_HEADERS.sourceOffset]: String(source.offset),
    [DEAD_LETTER_HEADERS.group]: 'workers',
    [DEAD_LETTER_HEADERS.attempts]: '5',
    [DEAD_LETTER_HEADERS.cause]: 'max-delivery-attempts',
    [DEAD_LETTER_HEADERS.error]: 'boom',
    [DEAD_LETTER_HEADERS.deadLetteredAtMs]: '1700000000000',
  };
}

describe('console API, read-only (the default)', () => {
  const s = useInProcessServer();
  const port = () => s.server.httpPort!;

  it('pages the topic list, with records, sizes and a throughput series per topic; bad paging is a 400', async () => {
    for (const name of ['t-a', 't-b', 't-c']) await s.client.admin.createTopic(name, { partitions: 2 });
    const producer = s.client.producer({ acks: 'durable' });
    for (let i = 0; i < 5; i++) await producer.send('t-b', { value: `v${i}`, partition: i % 2 });
    await producer.close();
    const first = await getJson(port(), '/api/topics?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.total).toBeGreaterThanOrEqual(3);
    expect(first.body.items).toHaveLength(2);
    const all = await getJson(port(), '/api/topics?limit=1000');
    const b = all.body.items.find((t: { name: string }) => t.name === 't-b');
    expect(b).toMatchObject({ partitionCount: 2, records: 5, endOffsetSum: 5, partitionsNotOnline: 0 });
    expect(b.sizeBytes).toBeGreaterThan(0);
    expect(Array.isArray(b.throughput)).toBe(true);
    const second = await getJson(port(), '/api/topics?offset=2&limit=2');
    expect(second.body.items[0].name).not.toBe(first.body.items[0].name);
    expect((await getJson(port(), '/api/topics?limit=0')).status).toBe(400);
    expect((await getJson(port(), `/api/topics?limit=${CONSOLE_LIMITS.maxPageRows + 1}`)).status).toBe(400);
    expect((await getJson(port(), '/api/topics?offset=-1')).status).toBe(400);
    // Internal topics are not listed.
    expect(all.body.items.some((t: { name: string }) => t.name.startsWith('__'))).toBe(false);
  });

  it('describes a topic: partitions with offsets and sizes, its config by Kafka keys; an unknown topic is a 404', async () => {
    await s.client.admin.createTopic('described', { partitions: 3, config: { 'retention.ms': '60000' } });
    const { status, body } = await getJson(port(), '/api/topics/described');
    expect(status).toBe(200);
    expect(body.partitions.items).toHaveLength(3);
    expect(body.partitions.items[0]).toMatchObject({ partition: 0, status: 'online', logStartOffset: 0, highWatermark: 0 });
    expect(body.config['retention.ms']).toBe('60000');
    expect(body.configOverrides).toEqual({ 'retention.ms': '60000' });
    const missing = await getJson(port(), '/api/topics/no-such-topic');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('TOPIC_NOT_FOUND');
    expect((await getJson(port(), '/api/topics/no-such-topic/messages')).status).toBe(404);
    expect((await getJson(port(), '/api/groups/no-such-group')).status).toBe(404);
    expect((await getJson(port(), '/api/queue-groups/no-such-group')).status).toBe(404);
  });

  it('browses messages by offset, by time and by key, decoding UTF-8, JSON and hex, with headers in order', async () => {
    await s.client.admin.createTopic('browse', { partitions: 2 });
    const producer = s.client.producer({ acks: 'durable' });
    await producer.send('browse', { key: 'k-text', value: 'plain text', partition: 0, timestampMs: 1_000, headers: [{ key: 'h', value: Buffer.from('1') }, { key: 'h', value: Buffer.from('2') }, { key: 'n', value: null }] });
    await producer.send('browse', { key: 'k-json', value: '{"a":1}', partition: 0, timestampMs: 2_000 });
    await producer.send('browse', { key: 'k-bin', value: Buffer.from([0, 1, 2, 255]), partition: 0, timestampMs: 3_000 });
    await producer.send('browse', { key: 'k-json', value: null, partition: 1, timestampMs: 4_000 });
    await producer.close();

    const byOffset = await getJson(port(), '/api/topics/browse/messages?partition=0&offset=1&limit=1');
    expect(byOffset.status).toBe(200);
    expect(byOffset.body.records).toHaveLength(1);
    expect(byOffset.body.records[0]).toMatchObject({ partition: 0, offset: 1, timestampMs: 2_000, key: { encoding: 'utf8', text: 'k-json' }, value: { encoding: 'json', text: '{\n  "a": 1\n}' } });
    expect(byOffset.body.stoppedBy).toBe('limit');
    expect(byOffset.body.partitions).toEqual([{ partition: 0, startOffset: 1, nextOffset: 2, endOffset: 3, isComplete: false }]);

    const first = (await getJson(port(), '/api/topics/browse/messages?partition=0&from=earliest')).body.records;
    expect(first.map((r: { offset: number }) => r.offset)).toEqual([0, 1, 2]);
    expect(first[0].headers).toEqual([
      { key: 'h', value: { encoding: 'utf8', text: '1', sizeBytes: 1, isTruncated: false } },
      { key: 'h', value: { encoding: 'utf8', text: '2', sizeBytes: 1, isTruncated: false } },
      { key: 'n', value: { encoding: 'null', text: '', sizeBytes: 0, isTruncated: false } },
    ]);
    expect(first[2].value).toEqual({ encoding: 'hex', text: '000102ff', sizeBytes: 4, isTruncated: false });

    const byTime = await getJson(port(), '/api/topics/browse/messages?timestampMs=2500');
    expect(byTime.body.records.map((r: { partition: number; offset: number }) => `${r.partition}@${r.offset}`)).toEqual(['0@2', '1@0']);

    const byKey = await getJson(port(), '/api/topics/browse/messages?key=k-json&from=earliest');
    expect(byKey.body.records.map((r: { partition: number; offset: number }) => `${r.partition}@${r.offset}`)).toEqual(['0@1', '1@0']);
    expect(byKey.body.records[1].value.encoding).toBe('null');
    expect(byKey.body.stoppedBy).toBeNull();
  });

  it('refuses bad browser input with a 400 naming the parameter, and an unknown partition with a 404', async () => {
    await s.client.admin.createTopic('bad-input', { partitions: 2 });
    const bad = async (query: string) => {
      const { status, body } = await getJson(port(), `/api/topics/bad-input/messages?${query}`);
      expect(status, query).toBe(400);
      return body.error as { code: string; message: string };
    };
    expect((await bad('partition=0&offset=abc')).message).toMatch(/^offset must be an integer/);
    expect((await bad('partition=0&offset=-1')).message).toMatch(/^offset must be an integer/);
    expect((await bad('partition=0&offset=1.5')).message).toMatch(/^offset must be an integer/);
    expect((await bad('partition=0&offset=5')).code).toBe('OFFSET_OUT_OF_RANGE');
    expect((await bad('offset=0')).message).toMatch(/give partition too/);
    expect((await bad('partition=0&offset=0&from=earliest')).message).toMatch(/give one of/);
    expect((await bad('from=middle')).message).toMatch(/from must be one of earliest, latest/);
    expect((await bad(`limit=${CONSOLE_LIMITS.maxMessageCount + 1}`)).message).toMatch(/^limit must be/);
    expect((await bad(`maxBytes=${CONSOLE_LIMITS.maxMessageBytes + 1}`)).message).toMatch(/^maxBytes must be/);
    const unknownPartition = await getJson(port(), '/api/topics/bad-input/messages?partition=7');
    expect(unknownPartition.status).toBe(404);
    expect(unknownPartition.body.error.code).toBe('PARTITION_NOT_FOUND');
  });

  it('caps an answer: at most limit records and maxBytes of shown text (the first record always), each field cut at maxFieldBytes', async () => {
    await s.client.admin.createTopic('big', { partitions: 1 });
    const producer = s.client.producer({ acks: 'durable' });
    for (let i = 0; i < 3; i++) await producer.send('big', { value: String(i).repeat(10_000) });
    await producer.send('big', { value: 'x'.repeat(CONSOLE_LIMITS.maxFieldBytes + 10) });
    await producer.close();
    const capped = await getJson(port(), '/api/topics/big/messages?from=earliest&maxBytes=15000');
    expect(capped.body.records.map((r: { offset: number }) => r.offset)).toEqual([0]);
    expect(capped.body.stoppedBy).toBe('maxBytes');
    // The next page starts at the record that did not fit.
    expect(capped.body.partitions[0].nextOffset).toBe(1);
    const one = await getJson(port(), '/api/topics/big/messages?from=earliest&maxBytes=1');
    expect(one.body.records).toHaveLength(1);
    const cut = (await getJson(port(), '/api/topics/big/messages?partition=0&offset=3')).body.records[0].value;
    expect(cut).toMatchObject({ encoding: 'utf8', sizeBytes: CONSOLE_LIMITS.maxFieldBytes + 10, isTruncated: true });
    expect(cut.text).toHaveLength(CONSOLE_LIMITS.maxFieldBytes);
    const newest = await getJson(port(), '/api/topics/big/messages?limit=2');
    expect(newest.body.records.map((r: { offset: number }) => r.offset)).toEqual([2, 3]);
  });

  it('shows a consumer group with its lag per partition', async () => {
    await s.client.admin.createTopic('lagged', { partitions: 2 });
    const producer = s.client.producer({ acks: 'durable' });
    for (let i = 0; i < 10; i++) await producer.send('lagged', { value: `v${i}`, partition: 0 });
    await producer.close();
    await s.client.admin.resetOffsets('reporting', { topic: 'lagged', to: { offset: 4 }, partitions: [0], execute: true });
    const group = await getJson(port(), '/api/groups/reporting');
    expect(group.status).toBe(200);
    expect(group.body.lagRecords).toBe(6);
    expect(group.body.lag.items).toEqual([
      expect.objectContaining({ topic: 'lagged', partition: 0, committedOffset: 4, logEndOffset: 10, lagRecords: 6 }),
      expect.objectContaining({ topic: 'lagged', partition: 1, committedOffset: -1, logEndOffset: 0, lagRecords: 0 }),
    ]);
    const list = await getJson(port(), '/api/groups');
    expect(list.body.items).toContainEqual(expect.objectContaining({ groupId: 'reporting', memberCount: 0, lagRecords: 6, topics: ['lagged'] }));
  });

  it('refuses every action with 403 and a message naming the setting, and changes nothing', async () => {
    await s.client.admin.createTopic('kept', { partitions: 1 });
    await s.client.admin.createTopic('kept.dlq', { partitions: 1 });
    const producer = s.client.producer({ acks: 'durable' });
    await producer.send('kept', { value: 'x' });
    await producer.send('kept.dlq', { value: 'dead', headers: deadLetterHeaders({ topic: 'kept', partition: 0, offset: 0 }) });
    await producer.close();
    await s.client.admin.resetOffsets('kept-group', { topic: 'kept', to: 'earliest', execute: true });
    const refusals = [
      await postJson(port(), '/api/dead-letters/kept.dlq/redrive', {}),
      await postJson(port(), '/api/groups/kept-group/reset-offsets', { topic: 'kept', to: 'latest', execute: true }),
      await postJson(port(), '/api/groups/kept-group', undefined, 'DELETE'),
      await postJson(port(), '/api/topics/kept', undefined, 'DELETE'),
    ];
    for (const refusal of refusals) {
      expect(refusal.status).toBe(403);
      expect(refusal.body.error.code).toBe('CONSOLE_ACTIONS_DISABLED');
      expect(refusal.body.error.message).toMatch(/consoleActions: true/);
    }
    expect((await s.client.admin.listOffsets('kept', 'latest'))[0]!.offset).toBe(1);
    expect((await s.client.admin.describeGroup('kept-group')).lag[0]!.committedOffset).toBe(0);
    expect((await getJson(port(), '/api/info')).body.areActionsEnabled).toBe(false);
  });

  it('serves the front end at / with a strict CSP and the right content types, and nothing outside its files', async () => {
    const index = await httpCall(port(), 'GET', '/');
    // The assets are built by `make build` (console/build.mjs); without them / says so with a 503.
    if (index.status === 503) throw new Error(`the console is not built: ${index.body}`);
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'; style-src 'self'/);
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    expect(index.body).toContain('/assets/app.js');
    const script = await httpCall(port(), 'GET', '/assets/app.js');
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await httpCall(port(), 'GET', '/assets/app.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await httpCall(port(), 'GET', '/assets/..%2Fpackage.json')).status).toBe(404);
    expect((await httpCall(port(), 'GET', '/assets/missing.js')).status).toBe(404);
    // No address outside this origin anywhere in the page or its script (no CDN).
    expect(script.body).not.toMatch(/https?:\/\/(?!www\.w3\.org)[a-z0-9.-]+\.[a-z]{2,}\//i);
  });
});

describe('console API with consoleActions on', () => {
  const s = useInProcessServer({ consoleActions: true });
  const port = () => s.server.httpPort!;

  it('redrives dead letters to their source partitions (key, value, headers, timestamp kept; dlq headers dropped; each source record once), in bounded requests', async () => {
    await s.client.admin.createTopic('orders', { partitions: 2 });
    await s.client.admin.createTopic('orders.dlq', { partitions: 1 });
    const producer = s.client.producer({ acks: 'durable' });
    const letters = [
      { key: 'a', value: 'first', offset: 0 },
      { key: 'b', value: 'second', offset: 1 },
      { key: 'b', value: 'second', offset: 1 }, // dead-lettered twice (a crash between append and archive)
      { key: 'c', value: 'third', offset: 2 },
    ];
    for (const l of letters) await producer.send('orders.dlq', { key: l.key, value: l.value, timestampMs: 1_600_000_000_000 + l.offset, headers: { trace: `t${l.offset}`, ...deadLetterHeaders({ topic: 'orders', partition: 1, offset: l.offset }) } });
    await producer.send('orders.dlq', { value: 'orphan' });
    await producer.close();

    const inspected = await getJson(port(), '/api/dead-letters/orders.dlq');
    expect(inspected.body.records).toHaveLength(5);
    expect(inspected.body.records[0].deadLetter).toEqual({ sourceTopic: 'orders', sourcePartition: 1, sourceOffset: 0, group: 'workers', attempts: 5, cause: 'max-delivery-attempts', error: 'boom', deadLetteredAtMs: 1_700_000_000_000 });
    expect((await getJson(port(), '/api/dead-letters')).body.items).toEqual([expect.objectContaining({ topic: 'orders.dlq', sourceTopic: 'orders', records: 5 })]);

    // One record per request: the answer says where to go on from.
    const step = await postJson(port(), '/api/dead-letters/orders.dlq/redrive', { maxRecords: 1 });
    expect(step.status).toBe(200);
    expect(step.body).toMatchObject({ appended: 1, isComplete: false, nextOffsets: [{ partition: 0, offset: 1 }] });
    const rest = await postJson(port(), '/api/dead-letters/orders.dlq/redrive', { fromOffsets: step.body.nextOffsets });
    expect(rest.body).toMatchObject({ appended: 2, duplicates: 1, withoutSource: 1, perTarget: { 'orders/1': 2 }, isComplete: true, nextOffsets: [{ partition: 0, offset: 5 }] });

    const back = (await getJson(port(), '/api/topics/orders/messages?partition=1&from=earliest')).body.records;
    expect(back.map((r: { key: { text: string }; value: { text: string }; timestampMs: number }) => [r.key.text, r.value.text, r.timestampMs])).toEqual([
      ['a', 'first', 1_600_000_000_000],
      ['b', 'second', 1_600_000_000_001],
      ['c', 'third', 1_600_000_000_002],
    ]);
    expect(back[0].headers).toEqual([{ key: 'trace', value: expect.objectContaining({ text: 't0' }) }]);
    expect((await s.client.admin.listOffsets('orders', 'latest')).map((o) => o.offset)).toEqual([0, 3]);
    // The dead letters stay where they are (a log).
    expect((await s.client.admin.listOffsets('orders.dlq', 'latest'))[0]!.offset).toBe(5);

    expect((await postJson(port(), '/api/dead-letters/orders.dlq/redrive', { maxRecords: 0 })).status).toBe(400);
    expect((await postJson(port(), '/api/dead-letters/orders.dlq/redrive', [])).status).toBe(400);
    expect((await postJson(port(), '/api/dead-letters/nope.dlq/redrive', {})).status).toBe(404);
  });

  it('refuses actions from another site: a body not sent as JSON (415), an Origin other than this host (403); nothing changes', async () => {
    await s.client.admin.createTopic('csrf', { partitions: 1 });
    await s.client.admin.createTopic('csrf.dlq', { partitions: 1 });
    const producer = s.client.producer({ acks: 'durable' });
    await producer.send('csrf.dlq', { value: 'dead', headers: deadLetterHeaders({ topic: 'csrf', partition: 0, offset: 0 }) });
    await producer.close();
    // A cross-site form posts text/plain with no preflight.
    const plain = await httpCall(port(), 'POST', '/api/dead-letters/csrf.dlq/redrive', '{}', { 'content-type': 'text/plain' });
    expect(plain.status).toBe(415);
    const foreign = await httpCall(port(), 'POST', '/api/dead-letters/csrf.dlq/redrive', '{}', { 'content-type': 'application/json', origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body).error.code).toBe('CROSS_SITE_REQUEST');
    const foreignDelete = await httpCall(port(), 'DELETE', '/api/topics/csrf', undefined, { origin: 'http://evil.example' });
    expect(foreignDelete.status).toBe(403);
    expect((await s.client.admin.listOffsets('csrf', 'latest'))[0]!.offset).toBe(0);
    // The console's own page sends its origin: accepted.
    const own = await httpCall(port(), 'POST', '/api/dead-letters/csrf.dlq/redrive', '{}', { 'content-type': 'application/json', origin: `http://127.0.0.1:${port()}` });
    expect(own.status).toBe(200);
    expect((await s.client.admin.listOffsets('csrf', 'latest'))[0]!.offset).toBe(1);
  });

  it('deletes a topic and a queue group with no members', async () => {
    await s.client.admin.createTopic('doomed', { partitions: 1 });
    const producer = s.client.producer({ acks: 'durable' });
    await producer.send('doomed', { value: 'x' });
    await producer.close();
    const queue = s.client.queue({ groupId: 'doomed-workers', topics: ['doomed'] });
    for await (const message of queue) {
      await message.ack();
      break;
    }
    await queue.close();
    expect((await getJson(port(), '/api/queue-groups/doomed-workers')).body.total.depth).toBe(0);
    expect((await postJson(port(), '/api/queue-groups/doomed-workers', undefined, 'DELETE')).status).toBe(200);
    expect((await getJson(port(), '/api/queue-groups/doomed-workers')).status).toBe(404);
    expect((await postJson(port(), '/api/topics/doomed', undefined, 'DELETE')).status).toBe(200);
    expect((await getJson(port(), '/api/topics/doomed')).status).toBe(404);
    expect((await postJson(port(), '/api/topics/__consumer_offsets', undefined, 'DELETE')).status).toBe(400);
  });

  it('resets a group\'s offsets (a dry run first) and deletes the group', async () => {
    await s.client.admin.createTopic('reset-me', { partitions: 1 });
    const producer = s.client.producer({ acks: 'durable' });
    for (let i = 0; i < 4; i++) await producer.send('reset-me', { value: `v${i}` });
    await producer.close();
    await s.client.admin.resetOffsets('resetters', { topic: 'reset-me', to: 'earliest', execute: true });
    const dry = await postJson(port(), '/api/groups/resetters/reset-offsets', { topic: 'reset-me', to: 'latest' });
    expect(dry.body).toEqual({ changes: [{ topic: 'reset-me', partition: 0, previousOffset: 0, newOffset: 4 }], executed: false });
    expect((await s.client.admin.describeGroup('resetters')).lag[0]!.committedOffset).toBe(0);
    const done = await postJson(port(), '/api/groups/resetters/reset-offsets', { topic: 'reset-me', to: { offset: 2 }, execute: true });
    expect(done.body.executed).toBe(true);
    expect((await s.client.admin.describeGroup('resetters')).lag[0]!.committedOffset).toBe(2);
    expect((await postJson(port(), '/api/groups/resetters/reset-offsets', { topic: 'reset-me', to: 'middle' })).status).toBe(400);
    expect((await postJson(port(), '/api/groups/resetters', undefined, 'DELETE')).status).toBe(200);
    expect((await getJson(port(), '/api/groups/resetters')).status).toBe(404);
  });
});
