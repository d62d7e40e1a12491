import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/client/consume.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

const run = promisify(execFile);
/** Debian's interpreter: the grpc modules come from Debian packages (python3-grpcio, ...), not pip. */
const PYTHON = '/usr/bin/python3';
const CLIENT = fileURLToPath(new URL('./strata_client.py', import.meta.url));
const PROTO_DIR = fileURLToPath(new URL('../../proto', import.meta.url));

type JsonRecord = { offset: number; timestamp_ms: number; key: string | null; value: string | null; headers: [string, string | null][] };

function asJson(record: ConsumedRecord): JsonRecord {
  return {
    offset: record.offset,
    timestamp_ms: record.timestampMs,
    key: record.key?.toString('utf8') ?? null,
    value: record.value?.toString('utf8') ?? null,
    headers: record.headers.map((h) => [h.key, h.value?.toString('utf8') ?? null]),
  };
}

/**
 * Any gRPC stack is a client: test/polyglot/strata_client.py, written from the proto files and
 * docs/protocol.md alone (its own RecordBatch v2 codec and CRC-32C), produces and replays against a
 * real server, and what it writes and what the TypeScript client writes read back the same both ways.
 * Never skipped: without Debian's Python gRPC packages it fails and says how to get them (`make test`
 * installs them).
 */
describe('a Python client written from docs/protocol.md', () => {
  const fixture = useInProcessServer();

  beforeAll(async () => {
    try {
      await run(PYTHON, ['-c', 'import grpc, grpc_tools.protoc, google.protobuf']);
    } catch (error) {
      throw new Error(
        `${PYTHON} cannot import grpc, grpc_tools and google.protobuf: run \`make test\` (it installs them), or ` +
          `\`apt-get install -y python3-grpcio python3-grpc-tools python3-protobuf\`: ${(error as Error).message}`,
      );
    }
  });

  async function python(...args: string[]): Promise<Record<string, unknown>> {
    const { stdout } = await run(PYTHON, [CLIENT, '--address', fixture.address, '--proto-dir', PROTO_DIR, ...args], { timeout: 60_000 });
    return JSON.parse(stdout) as Record<string, unknown>;
  }

  async function readAll(topic: string, partition: number, count: number): Promise<JsonRecord[]> {
    const records: JsonRecord[] = [];
    const controller = new AbortController();
    for await (const record of fixture.client.consume(topic, { from: 'earliest', partitions: [partition], signal: controller.signal })) {
      records.push(asJson(record));
      if (records.length === count) controller.abort();
    }
    return records;
  }

  it('creates a topic, produces keyed records with headers (plain and gzip, idempotent), and replays them', async () => {
    const out = (await python('demo', '--topic', 'from-python')) as {
      produced: Record<string, { base_offset: number; last_offset: number; durability: string; duplicate: boolean; failure: unknown }>;
      retry: { base_offset: number; last_offset: number; duplicate: boolean };
      replayed: Record<string, JsonRecord[]>;
      fetched_from_1: number[];
      end_offsets: Record<string, number>;
      errors: Record<string, Record<string, unknown>>;
      init_producer_epoch: number;
    };
    expect(out.produced).toEqual({
      '1': { base_offset: 0, last_offset: 2, durability: 'ACK_LEVEL_DURABLE', duplicate: false, failure: null },
      '2': { base_offset: 3, last_offset: 4, durability: 'ACK_LEVEL_DURABLE', duplicate: false, failure: null },
      '3': { base_offset: 0, last_offset: 0, durability: 'ACK_LEVEL_DURABLE', duplicate: false, failure: null },
    });
    expect(out.retry).toEqual({ base_offset: 0, last_offset: 2, duplicate: true });
    expect(out.end_offsets).toEqual({ '0': 5, '1': 1 });
    expect(out.replayed['0']!.map((r) => [r.offset, r.key, r.value])).toEqual([
      [0, 'user-0', 'signed up 0'],
      [1, 'user-1', 'signed up 1'],
      [2, 'user-2', 'signed up 2'],
      [3, 'user-3', 'paid 3'],
      [4, 'user-4', 'paid 4'],
    ]);
    expect(out.replayed['0']![3]!.headers).toEqual([['trace', 't3'], ['empty', null]]);
    expect(out.replayed['1']).toEqual([{ offset: 0, timestamp_ms: 1_765_000_000_000, key: null, value: 'no key', headers: [] }]);
    expect(out.fetched_from_1).toEqual([1, 2, 3, 4]);
    // The strata-* trailers and in-stream failures, as the doc's error table says.
    expect(out.errors['negative_fetch']).toMatchObject({ status: 'INVALID_ARGUMENT', code: 'INVALID_ARGUMENT', retriable: 'false' });
    expect(out.errors['negative_fetch']!['call_id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.errors['fetch_past_end']).toMatchObject({ status: 'OUT_OF_RANGE', code: 'OFFSET_OUT_OF_RANGE', retriable: 'false' });
    expect(out.errors['garbage']).toEqual({ code: 'CORRUPT_BATCH', grpc_status: 3, retriable: false });
    expect(out.errors['transactional']).toEqual({ code: 'UNSUPPORTED_BATCH_TYPE', grpc_status: 3, retriable: false });
    expect(out.errors['sequence_gap']).toEqual({ code: 'OUT_OF_ORDER_SEQUENCE', grpc_status: 9, retriable: true });
    // Producer ids come from InitProducer; a newer instance of a named producer fences the older one.
    expect(out.init_producer_epoch).toBe(0);
    expect(out.errors['fenced']).toEqual({ code: 'PRODUCER_FENCED', grpc_status: 9, retriable: false });
    // What Python wrote, the TypeScript client reads the same, and nothing was written twice.
    expect(await readAll('from-python', 0, 5)).toEqual(out.replayed['0']);
    expect((await fixture.client.admin.describeTopic('from-python')).partitions.map((p) => p.logEndOffset)).toEqual([5, 1]);
  });

  it('replays what the TypeScript producer wrote (plain and gzip batches, null keys, headers)', async () => {
    await fixture.client.admin.createTopic('from-node', { partitions: 1 });
    for (const compression of ['none', 'gzip'] as const) {
      const producer = fixture.client.producer({ compression, lingerMs: 50 });
      await producer.sendBatch(
        'from-node',
        Array.from({ length: 20 }, (_, i) => ({
          key: i % 5 === 0 ? null : `k${i}`,
          value: `${compression} ${i} ${'é'.repeat(i)}`,
          headers: (i % 2 === 0 ? {} : { h: `v${i}`, trace: Buffer.from([0x41 + (i % 26)]) }) as Record<string, string | Buffer>,
          timestampMs: 1_765_000_000_000 + i,
          partition: 0,
        })),
      );
      await producer.close();
    }
    const out = (await python('replay', '--topic', 'from-node')) as Record<string, JsonRecord[]>;
    expect(out['0']).toHaveLength(40);
    expect(out['0']).toEqual(await readAll('from-node', 0, 40));
  });
});
