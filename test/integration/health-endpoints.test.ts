import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PortInUseError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import type { FileHandlePort } from '../../src/storage/file-system.js';
import { startServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { httpCall, httpCallWhenListening } from '../helpers/http-call.js';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Holds every open() until released: startup stays in recovery for as long as the test wants. */
class GatedFileSystem extends FaultyFileSystem {
  private release!: () => void;
  readonly gate = new Promise<void>((resolve) => (this.release = resolve));
  letOpen(): void {
    this.release();
  }
  override async open(path: string, options: { create: boolean }): Promise<FileHandlePort> {
    await this.gate;
    return super.open(path, options);
  }
}

describe('health endpoints', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('/readyz answers 503 while recovery runs, 200 once ready, and /healthz 200 throughout', async () => {
    const dir = await makeTempDir();
    cleanups.push(() => dir.remove());
    const fs = new GatedFileSystem();
    const httpPort = await freePort();
    const starting = startServer(resolveServerConfig({ dataDir: dir.path, port: 0, httpPort, host: '127.0.0.1' }), silentLogger, undefined, { fs });
    const during = await httpCallWhenListening(httpPort, 'GET', '/readyz');
    expect(during.status).toBe(503);
    expect(JSON.parse(during.body)).toMatchObject({ status: 'starting' });
    expect((await httpCall(httpPort, 'GET', '/healthz')).status).toBe(200);
    // Routes registered after recovery answer 503 meanwhile, not a 404 a registry client would take for "no such subject".
    const subjects = await httpCall(httpPort, 'GET', '/subjects/orders-value/versions');
    expect(subjects.status).toBe(503);
    expect(JSON.parse(subjects.body)).toMatchObject({ error_code: 50301 });
    const topics = await httpCall(httpPort, 'GET', '/api/topics');
    expect(topics.status).toBe(503);
    expect(JSON.parse(topics.body)).toMatchObject({ error: { code: 'STARTING' } });
    fs.letOpen();
    const server = await starting;
    cleanups.push(() => server.close());
    expect(server.httpPort).toBe(httpPort);
    const after = await httpCall(httpPort, 'GET', '/readyz');
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body)).toEqual({ status: 'ready' });
    expect((await httpCall(httpPort, 'GET', '/subjects')).status).toBe(200);
    expect((await httpCall(httpPort, 'GET', '/no-such-route')).status).toBe(404);
    await server.close();
    await expect(httpCall(httpPort, 'GET', '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a taken HTTP port fails startup in one line naming --http-port, before the data dir is touched', async () => {
    const dir = await makeTempDir();
    cleanups.push(() => dir.remove());
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
    const httpPort = (squatter.address() as { port: number }).port;
    const failure = startServer(resolveServerConfig({ dataDir: `${dir.path}/data`, port: 0, httpPort, host: '127.0.0.1' }), silentLogger);
    await expect(failure).rejects.toBeInstanceOf(PortInUseError);
    await expect(failure).rejects.toThrow(/choose another --http-port/);
  });

  it('httpPort -1 starts no HTTP listener; strata serve prints the HTTP port it bound', async () => {
    const dir = await makeTempDir();
    cleanups.push(() => dir.remove());
    const server = await startServer(resolveServerConfig({ dataDir: dir.path, port: 0, httpPort: -1, host: '127.0.0.1' }), silentLogger);
    cleanups.push(() => server.close());
    expect(server.httpPort).toBeUndefined();
    const processDir = await makeTempDir();
    cleanups.push(() => processDir.remove());
    const child: ServerProcess = await startServerProcess(processDir.path);
    cleanups.push(() => child.stop());
    expect(child.httpPort).toBeGreaterThan(0);
    expect((await httpCall(child.httpPort!, 'GET', '/readyz')).status).toBe(200);
  });

  it('refuses a bad httpPort and one equal to the gRPC port', () => {
    expect(() => resolveServerConfig({ httpPort: -2 })).toThrow(/httpPort must be an integer/);
    expect(() => resolveServerConfig({ httpPort: 70000 })).toThrow(/httpPort/);
    expect(() => resolveServerConfig({ port: 7070, httpPort: 7070 })).toThrow(/give each its own/);
  });
});
