import { spawnSync } from 'node:child_process';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClientError } from '../../src/client/client-error.js';
import type { RecordMetadata } from '../../src/client/producer.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { STRATA_BIN, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const DISK_BYTES = 4 * 1024 * 1024;
const RECORD_BYTES = 1000;

/** Every file under `path` whose name marks it temporary (what writeFileAtomic writes before its rename). */
async function temporaryFiles(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(path, { withFileTypes: true, recursive: true })) {
    if (entry.name.includes('.tmp-')) found.push(join(entry.parentPath ?? entry.path, entry.name));
  }
  return found;
}

function mount(directory: string): void {
  // Root is needed (CI runs as root): without it this fails, on purpose, instead of skipping.
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_BYTES}`, 'tmpfs', directory], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`this test needs a real full disk: 'mount -t tmpfs' failed (${result.status}): ${result.stderr || result.error?.message}`);
}

function unmount(directory: string): void {
  const result = spawnSync('umount', [directory], { encoding: 'utf8' });
  if (result.status !== 0) spawnSync('umount', ['-l', directory]);
}

/**
 * Sends records of RECORD_BYTES to `topic` in calls of 50 until a call fails; returns what was
 * acknowledged (value -> offset) and the first failure.
 */
async function produceUntilFull(client: StrataClient, topic: string, label: string, acknowledged: Map<string, number>): Promise<StrataClientError> {
  // One call is one batch (50 x 1000 bytes < batchBytes), so a refused call leaves nothing queued:
  // with the default 16 KiB batches, the rest of a refused call went on after the failure (or at
  // close) and a smaller batch fitting into the space the cut tail freed set the partition online.
  const producer = client.producer({ lingerMs: 0, deliveryTimeoutMs: 30_000, batchBytes: 128 * 1024 });
  try {
    for (let call = 0; call < 10_000; call++) {
      const values = Array.from({ length: 50 }, (_, i) => `${label}-${call}-${i}-`.padEnd(RECORD_BYTES, 'x'));
      let results: RecordMetadata[];
      try {
        results = await producer.sendBatch(topic, values.map((value) => ({ value })));
      } catch (error) {
        return error as StrataClientError;
      }
      results.forEach((r, i) => acknowledged.set(values[i]!, r.offset));
    }
    throw new Error(`${topic} never filled the disk`);
  } finally {
    await producer.close().catch(() => undefined);
  }
}

function cli(server: ServerProcess, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [STRATA_BIN, ...args, '--server', server.address], { encoding: 'utf8', timeout: 30_000 });
}

describe('a real full disk (tmpfs of 4 MiB), end to end', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let disk: string;
  let dataDir: string;
  let server: ServerProcess | undefined;
  let client: StrataClient | undefined;
  let isMounted = false;

  beforeAll(async () => {
    dir = await makeTempDir();
    disk = join(dir.path, 'disk');
    dataDir = join(disk, 'data');
    await mkdir(disk);
    mount(disk);
    isMounted = true;
  });

  afterAll(async () => {
    client?.close();
    await server?.stop('SIGKILL');
    if (isMounted) unmount(disk);
    await dir?.remove();
  });

  it('refuses writes with the reason, shows it in describe, takes writes again once space is freed, and restarts while full', async () => {
    server = await startServerProcess(dataDir);
    client = new StrataClient({ address: server.address });
    await client.admin.createTopic('main', { partitions: 1 });
    const acknowledged = new Map<string, number>();
    // Two topics of about 1 MB each: deleting one frees room (once while running, once after the restart).
    const filler = client.producer({ lingerMs: 0 });
    for (const topic of ['filler-1', 'filler-2']) {
      await client.admin.createTopic(topic, { partitions: 1 });
      for (let call = 0; call < 20; call++) await filler.sendBatch(topic, Array.from({ length: 50 }, () => ({ value: 'f'.repeat(RECORD_BYTES) })));
    }
    await filler.close();

    const full = await produceUntilFull(client, 'main', 'a', acknowledged);
    expect(full.code).toBe('STORAGE_FAILED');
    expect(full.message).toMatch(/partition main\/0 is read-only since \d{4}-\d\d-\d\dT[\d:.]+Z: no space left on device \(ENOSPC\) writing .*main\/0\/0+\.log/);
    expect(acknowledged.size).toBeGreaterThan(1000);

    const described = (await client.admin.describeTopic('main')).partitions[0]!;
    expect(described.status).toBe('PARTITION_STATUS_READ_ONLY');
    expect(described.error).toMatch(/no space left on device \(ENOSPC\)/);
    expect(Date.now() - Number(described.statusSinceMs)).toBeLessThan(120_000);
    const table = cli(server, 'topics', 'describe', 'main');
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/read-only .*\d{4}-\d\d-\d\dT[\d:.]+Z .*no space left on device \(ENOSPC\)/);
    expect(await temporaryFiles(disk)).toEqual([]);

    // Space returns: the same partition takes writes, no restart.
    await client.admin.deleteTopic('filler-1');
    const producer = client.producer({ lingerMs: 0 });
    const [after] = await producer.sendBatch('main', [{ value: 'after-space-returned' }]);
    await producer.close();
    expect(after!.offset).toBe(Math.max(...acknowledged.values()) + 1);
    acknowledged.set('after-space-returned', after!.offset);
    expect((await client.admin.describeTopic('main')).partitions[0]).toMatchObject({ status: 'PARTITION_STATUS_ONLINE', error: '' });

    // Full again, then a restart while full.
    expect((await produceUntilFull(client, 'main', 'b', acknowledged)).code).toBe('STORAGE_FAILED');
    client.close();
    client = undefined;
    const stopped = await server.stop('SIGTERM');
    expect(stopped.code, server.stderr()).toBe(0);
    const firstRunLogs = server.stderr();
    server = await startServerProcess(dataDir, ['--log-level', 'info']);
    client = new StrataClient({ address: server.address });
    const logs = firstRunLogs + server.stderr();
    // What it could not do is said in a line each, with no stack trace.
    expect(server.stderr()).toMatch(/disk full at startup: partition opened read-only/);
    expect(logs).not.toMatch(/\\n\s+at /);
    expect(logs).not.toMatch(/\n\s+at /);
    expect(logs).not.toMatch(/"stack"/);
    expect(await temporaryFiles(disk)).toEqual([]);

    // Every acknowledged record is there, at its offset, in a log that reads to its end, with no
    // torn bytes after its last batch.
    const { highWatermark, sizeBytes } = (await client.admin.describeTopic('main')).partitions[0]!;
    let fileBytes = 0;
    for (const name of await readdir(join(dataDir, 'main', '0'))) if (name.endsWith('.log')) fileBytes += (await stat(join(dataDir, 'main', '0', name))).size;
    expect(fileBytes).toBe(Number(sizeBytes));
    expect(Number(highWatermark)).toBeGreaterThanOrEqual(acknowledged.size);
    const byOffset = new Map<number, string>();
    const controller = new AbortController();
    for await (const record of client.consume('main', { from: 'earliest', signal: controller.signal })) {
      byOffset.set(record.offset, record.value!.toString());
      if (record.offset >= Number(highWatermark) - 1) break;
    }
    for (const [value, offset] of acknowledged) expect(byOffset.get(offset), `offset ${offset}`).toBe(value);

    // And it takes writes again once there is room.
    await client.admin.deleteTopic('filler-2');
    const again = client.producer({ lingerMs: 0 });
    const [afterRestart] = await again.sendBatch('main', [{ value: 'after-restart' }]);
    await again.close();
    expect(afterRestart!.offset).toBe(Number(highWatermark));
    expect((await client.admin.describeTopic('main')).partitions[0]).toMatchObject({ status: 'PARTITION_STATUS_ONLINE', error: '' });
    await server.stop('SIGTERM');
    expect(await temporaryFiles(disk)).toEqual([]);
  });
});
