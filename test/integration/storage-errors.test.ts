import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer, type RunningServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { describeError } from '../../src/server/status.js';
import { FaultyFileSystem, tooManyOpenFilesError } from '../helpers/faulty-file-system.js';
import { rejection } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const noSpaceError = (what: string): NodeJS.ErrnoException => Object.assign(new Error(`ENOSPC: no space left on device, ${what}`), { code: 'ENOSPC' });

describe('topic creation on a full disk or at the descriptor limit', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let fs: FaultyFileSystem;
  let server: RunningServer;
  let client: StrataClient;
  beforeEach(async () => {
    dir = await makeTempDir();
    fs = new FaultyFileSystem();
    server = await startServer(resolveServerConfig({ dataDir: dir.path, port: 0, httpPort: 0, host: '127.0.0.1' }), silentLogger, undefined, { fs });
    client = new StrataClient({ address: `127.0.0.1:${server.port}` });
  });
  afterEach(async () => {
    client.close();
    await server.close();
    await dir.remove();
  });

  it('a full disk answers STORAGE_FAILED (UNAVAILABLE), naming the operation and ENOSPC; the topic is created once there is room', async () => {
    fs.failOperation = (operation, path) => {
      if (operation === 'mkdir') throw noSpaceError(`mkdir '${path}'`);
    };
    const error = await rejection(client.admin.createTopic('orders', { partitions: 2 }));
    expect(error.code).toBe('STORAGE_FAILED');
    expect(error.grpcStatus).toBe(grpc.status.UNAVAILABLE);
    expect(error.message).toMatch(/^creating topic orders: ENOSPC: no space left on device/);
    fs.failOperation = undefined;
    expect((await client.admin.createTopic('orders', { partitions: 2 })).partitionCount).toBe(2);
  });

  it('the descriptor limit answers TOO_MANY_OPEN_FILES (RESOURCE_EXHAUSTED), and leaves no topic behind', async () => {
    let opens = 0;
    fs.failOperation = (operation, path) => {
      // The third partition's first file: two partitions are open when the limit is reached.
      if (operation === 'open' && path.includes('orders') && ++opens > 4) throw tooManyOpenFilesError();
    };
    const error = await rejection(client.admin.createTopic('orders', { partitions: 8 }));
    expect(error.code).toBe('TOO_MANY_OPEN_FILES');
    expect(error.grpcStatus).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(error.message).toMatch(/EMFILE/);
    expect(error.retriable).toBe(false);
    fs.failOperation = undefined;
    expect((await client.admin.listTopics()).map((t) => t.name)).not.toContain('orders');
    expect((await client.admin.createTopic('orders', { partitions: 8 })).partitionCount).toBe(8);
  });
});

describe('the status of a file-system error no layer named', () => {
  it('is a Strata code, not INTERNAL', () => {
    expect(describeError(noSpaceError('write'))).toMatchObject({ code: 'STORAGE_FAILED', grpcStatus: grpc.status.UNAVAILABLE });
    expect(describeError(tooManyOpenFilesError())).toMatchObject({ code: 'TOO_MANY_OPEN_FILES', grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
    expect(describeError(Object.assign(new Error('ENFILE: file table overflow'), { code: 'ENFILE' }))).toMatchObject({ code: 'TOO_MANY_OPEN_FILES' });
    // A bug stays INTERNAL.
    expect(describeError(new TypeError('x is undefined'))).toMatchObject({ code: 'INTERNAL', grpcStatus: grpc.status.INTERNAL });
  });
});
