import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PortInUseError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer } from '../../src/server/bootstrap.js';
import { listenErrorOf } from '../../src/server/listen-check.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { STRATA_BIN } from '../helpers/server-process.js';
import { useTempDir } from '../helpers/temp-dir.js';

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe('a server on a port in use', () => {
  const dir = useTempDir({ each: true });
  let squatter: Server;
  let port: number;
  beforeEach(async () => {
    squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    port = (squatter.address() as { port: number }).port;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
  });

  it('strata serve says so in one line and exits 1, without creating the data dir', async () => {
    const dataDir = join(dir.path, 'data');
    expect(await exists(dataDir)).toBe(false);
    const child = spawn(process.execPath, [STRATA_BIN, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port), '--http-port', '0']);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toBe(`strata: PORT_IN_USE: 127.0.0.1:${port} is in use by another process: choose another --port, or stop that process\n`);
    expect(stdout).toBe('');
    expect(await exists(dataDir)).toBe(false);
  }, 30_000);

  it('startServer refuses with PortInUseError before it opens the data dir', async () => {
    const dataDir = join(dir.path, 'data');
    await expect(startServer(resolveServerConfig({ dataDir, host: '127.0.0.1', port, httpPort: 0 }), silentLogger)).rejects.toBeInstanceOf(PortInUseError);
    expect(await exists(dataDir)).toBe(false);
  });

  it("a bind that loses the port after the check (grpc-js's error) is the same one-line error", () => {
    const bindError = new Error('No address added out of total 1 resolved errors: [listen EADDRINUSE: address already in use 127.0.0.1:7070]');
    expect(listenErrorOf(bindError, '127.0.0.1', 7070)).toBeInstanceOf(PortInUseError);
    expect(listenErrorOf(new Error('something else'), '127.0.0.1', 7070)).toBeUndefined();
  });
});
