import { readFileSync } from 'node:fs';
import { crc32c } from '@node-rs/crc32';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ERROR_FROM_MESSAGE_BY_CODE } from '../../src/core/error-registry.js';
import type * as errors from '../../src/core/errors.js';
import * as limits from '../../src/core/limits.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { DEFAULT_SERVER_CONFIG, streamReservedBytes } from '../../src/server/server-config.js';
import { STATUS_BY_ERROR_CODE } from '../../src/server/status.js';

/** docs/protocol.md is what a client in another language is written from: it must say what the code does. */
const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

/** The rows of the markdown table whose header row starts with `header`, as arrays of cell texts. */
function tableRows(header: string): string[][] {
  const lines = doc.split('\n');
  const start = lines.findIndex((line) => line.startsWith(header));
  expect(start, `a table headed '${header}' in docs/protocol.md`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.slice(1, -1).split(' | ').map((cell) => cell.trim().replace(/^\|\s*|\s*\|$/g, '')));
  }
  return rows;
}

/** The error of every code in core's registry (the class a client makes of it), by code. */
function errorClassesByCode(): Map<string, errors.StrataError> {
  return new Map([...ERROR_FROM_MESSAGE_BY_CODE].map(([code, fromMessage]) => [code, fromMessage('placeholder')]));
}

describe('docs/protocol.md', () => {
  it('lists every error code a client can receive, with the status and retriable flag the server sends, and no other', () => {
    const rows = tableRows('| code | gRPC status | retriable |');
    const documented = new Map(rows.map(([code, status, retriable]) => [code!, { status: status!, retriable: retriable! }]));
    expect(documented.size, 'a code is listed twice').toBe(rows.length);
    // INTERNAL is what describeError makes of anything that is not a StrataError.
    const sent = new Map<string, grpc.status>([...Object.entries(STATUS_BY_ERROR_CODE), ['INTERNAL', grpc.status.INTERNAL]]);
    expect([...documented.keys()].sort(), 'the codes of the error table = STATUS_BY_ERROR_CODE + INTERNAL').toEqual([...sent.keys()].sort());
    const classes = errorClassesByCode();
    // Every code the server sends has a class a client makes of it (INTERNAL, anything else, has none).
    expect(Object.keys(STATUS_BY_ERROR_CODE).filter((code) => !classes.has(code)), 'codes with a status but no class in the registry').toEqual([]);
    for (const [code, { status, retriable }] of documented) {
      expect(status, `${code}'s status`).toBe(grpc.status[sent.get(code)!]);
      const expectedRetriable = classes.get(code)?.retriable ?? false;
      expect(retriable, `${code}'s retriable flag`).toBe(expectedRetriable ? 'yes' : 'no');
    }
  });

  it('names every code of core/errors.ts: in the error table, or among the codes no client sees', () => {
    const neverSent = tableRows('| code | why |').map(([code]) => code!);
    for (const code of neverSent) expect(STATUS_BY_ERROR_CODE[code], `${code} is said never to reach a client, but has a status`).toBeUndefined();
    const inErrorTable = new Set(tableRows('| code | gRPC status | retriable |').map(([code]) => code!));
    const missing = [...errorClassesByCode().keys()].filter((code) => !inErrorTable.has(code) && !neverSent.includes(code));
    expect(missing, 'codes of core/errors.ts missing from docs/protocol.md').toEqual([]);
  });

  it('shows a worked batch example that the codec produces byte for byte, and the CRC-32C check value', () => {
    const hex = /\*\*Worked example\.\*\*[\s\S]*?```\n([\s\S]*?)```/.exec(doc)![1]!.replace(/\s+/g, '');
    const batch = encodeRecordBatch([{ key: 'k', value: 'v', headers: { h: 'x' }, timestampMs: 1_700_000_000_000 }], { producerId: 1, producerEpoch: 0, baseSequence: 0 });
    expect(hex).toBe(batch.toString('hex'));
    expect(doc).toContain(`${batch.length} bytes:`);
    expect(doc).toContain(`CRC 0x${batch.readUInt32BE(17).toString(16)}`);
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(doc).toContain('"123456789" gives 0xE3069283');
  });

  it('states the limits the code has', () => {
    const limitsTable = new Map(tableRows('| limit | value |').map(([name, value]) => [name!, value!]));
    const mib = (bytes: number) => `${bytes / (1024 * 1024)} MiB`;
    const expectRow = (name: string, ...parts: string[]) => {
      expect(limitsTable.has(name), `a '${name}' row`).toBe(true);
      for (const part of parts) expect(limitsTable.get(name), name).toContain(part);
    };
    expectRow('gRPC message the server receives', DEFAULT_SERVER_CONFIG.maxRequestBytes.toLocaleString('en-US'));
    expectRow('gRPC message the server sends', limits.MAX_READ_RESPONSE_BYTES.toLocaleString('en-US'));
    expectRow('batch size', mib(limits.DEFAULT_MAX_BATCH_BYTES));
    expectRow('records of one batch', limits.MAX_RECORDS_PER_BATCH.toLocaleString('en-US'));
    expectRow('`records` of one produce request', mib(limits.MAX_GROUP_COMMIT_BYTES));
    expectRow('batches of one producer id in a request', String(limits.MAX_BATCHES_PER_PRODUCE_REQUEST));
    expectRow('requests / bytes in flight on a Produce stream', `${limits.MAX_IN_FLIGHT_REQUESTS_PER_STREAM} / ${mib(limits.MAX_IN_FLIGHT_BYTES_PER_STREAM)}`);
    expectRow('appends waiting on one partition', `${limits.MAX_PENDING_APPENDS_PER_PARTITION.toLocaleString('en-US')} / ${mib(limits.MAX_PENDING_APPEND_BYTES_PER_PARTITION)}`);
    expectRow('producers remembered per partition', limits.MAX_PRODUCERS_PER_PARTITION.toLocaleString('en-US'), `${limits.PRODUCER_RECENT_BATCHES} recent batches`);
    expectRow('producer names (`InitProducer`)', limits.MAX_NAMED_PRODUCERS.toLocaleString('en-US'), `1 to ${limits.MAX_PRODUCER_NAME_LENGTH} characters`);
    expectRow('`max_bytes` of Fetch and Subscribe', mib(limits.DEFAULT_FETCH_MAX_BYTES), mib(limits.MAX_FETCH_BYTES));
    expectRow('`max_wait_ms`', limits.MAX_FETCH_WAIT_MS.toLocaleString('en-US'));
    expectRow('partitions', `1 to ${limits.MAX_PARTITIONS.toLocaleString('en-US')} per topic`, `${limits.MAX_PARTITIONS_PER_SERVER.toLocaleString('en-US')} per server`);
    expectRow('bytes one Subscribe stream holds in the server', mib(DEFAULT_SERVER_CONFIG.subscriptionBufferBytes));
    expectRow('members per group; groups', `${limits.MAX_MEMBERS_PER_GROUP.toLocaleString('en-US')}; ${limits.MAX_GROUPS.toLocaleString('en-US')}`);
    expectRow('member id sent back', String(limits.MAX_MEMBER_ID_LENGTH));
    expectRow('topics one member subscribes to', limits.MAX_SUBSCRIBED_TOPICS_PER_MEMBER.toLocaleString('en-US'));
    expectRow('heartbeats per stream', `${limits.MAX_HEARTBEATS_PER_SECOND} a second`, `${limits.MAX_UNREAD_HEARTBEAT_ANSWERS} answers`);
    expectRow('HTTP/2 receive windows', mib(DEFAULT_SERVER_CONFIG.streamWindowBytes), mib(DEFAULT_SERVER_CONFIG.connectionWindowBytes));
    expectRow('concurrent streams per connection', DEFAULT_SERVER_CONFIG.maxConcurrentStreams.toLocaleString('en-US'));
    expectRow('memory the server holds for all clients', mib(DEFAULT_SERVER_CONFIG.memoryBudgetBytes), `${(streamReservedBytes(DEFAULT_SERVER_CONFIG) / (1024 * 1024)).toFixed(1)} MiB at the defaults`, `${limits.CONNECTION_RESERVED_BYTES / 1024} KiB`);
    expectRow('connections; open calls per client address', `${DEFAULT_SERVER_CONFIG.maxConnectionsPerAddress}; ${DEFAULT_SERVER_CONFIG.maxStreamsPerAddress}`);
    expectRow('queue session: answers per request; requests handled at once', `${limits.MAX_QUEUE_ANSWERS_PER_REQUEST.toLocaleString('en-US')}; ${limits.MAX_QUEUE_REQUESTS_IN_PROGRESS_PER_STREAM}`);
    expectRow('bytes one queue session holds unsent', mib(limits.QUEUE_SESSION_BUFFER_MAX_BYTES), `${limits.QUEUE_SESSION_BUFFER_RESERVED_BYTES / 1024} KiB reserved`);
    expectRow('queue in-flight limit per member', `1 to ${limits.MAX_QUEUE_IN_FLIGHT_PER_MEMBER.toLocaleString('en-US')} (0: ${limits.QUEUE_DEFAULT_IN_FLIGHT})`);
    expectRow('delivered bytes a queue member holds unanswered', mib(limits.MAX_QUEUE_UNANSWERED_BYTES_PER_MEMBER));
  });
});
