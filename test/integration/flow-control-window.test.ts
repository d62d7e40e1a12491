import { once } from 'node:events';
import * as http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { StrataClient } from '../../src/client/strata-client.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer, type RunningServer } from '../../src/server/bootstrap.js';
import { DEFAULT_HTTP2_WINDOW_BYTES, raiseFlowControlWindows } from '../../src/server/flow-control-window.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { eventually } from '../helpers/eventually.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const STREAM_WINDOW_BYTES = 768 * 1024;
const CONNECTION_WINDOW_BYTES = 3 * 1024 * 1024;
const WINDOWS = { streamWindowBytes: STREAM_WINDOW_BYTES, connectionWindowBytes: CONNECTION_WINDOW_BYTES };
const MAX_STREAMS = 77;

/** Connects a bare HTTP/2 client and returns what the server granted it: stream and connection windows. */
async function grantedWindows(port: number): Promise<{ streamWindowBytes: number; connectionWindowBytes: number; maxConcurrentStreams: number }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  // The server may end the connection first (a GOAWAY at its shutdown): not this test's concern.
  session.on('error', () => undefined);
  try {
    await once(session, 'remoteSettings');
    // The server sends its stream window (a second SETTINGS) and connection window (a WINDOW_UPDATE) as
    // the session opens, before it reads anything: once our PING is answered, both have arrived.
    await new Promise<void>((resolve, reject) => session.ping((error) => (error ? reject(error) : resolve())));
    return {
      streamWindowBytes: session.remoteSettings.initialWindowSize ?? -1,
      connectionWindowBytes: session.state.remoteWindowSize ?? -1,
      maxConcurrentStreams: session.remoteSettings.maxConcurrentStreams ?? -1,
    };
  } finally {
    const closed = once(session, 'close');
    session.close();
    await closed;
  }
}

describe('the server HTTP/2 flow-control window', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: RunningServer;
  beforeAll(async () => {
    dir = await makeTempDir();
    server = await startServer(resolveServerConfig({ dataDir: dir.path, port: 0, httpPort: 0, host: '127.0.0.1', ...WINDOWS, maxConcurrentStreams: MAX_STREAMS }), silentLogger);
  });
  afterAll(async () => {
    await server?.close();
    await dir.remove();
  });

  it('grants each connection and stream the configured windows and caps the streams (grpc-js keeps 64 KiB on its own)', async () => {
    expect(await grantedWindows(server.port)).toEqual({ ...WINDOWS, maxConcurrentStreams: MAX_STREAMS });
  });

  it('reaches the grpc-js internals it needs (fails if a grpc-js upgrade moves them)', async () => {
    const bare = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      bare.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
    );
    try {
      expect(await grantedWindows(port)).toMatchObject({ streamWindowBytes: DEFAULT_HTTP2_WINDOW_BYTES, connectionWindowBytes: DEFAULT_HTTP2_WINDOW_BYTES });
      expect(raiseFlowControlWindows(bare, WINDOWS)).toBe(true);
      expect(await grantedWindows(port)).toMatchObject(WINDOWS);
    } finally {
      bare.forceShutdown();
    }
  });

  it('refuses a window HTTP/2 cannot carry', () => {
    expect(() => resolveServerConfig({ streamWindowBytes: 1000 })).toThrow(/streamWindowBytes/);
    expect(() => resolveServerConfig({ connectionWindowBytes: 2 ** 31 })).toThrow(/connectionWindowBytes/);
    expect(() => resolveServerConfig({ maxConcurrentStreams: 0 })).toThrow(/maxConcurrentStreams/);
    expect(() => raiseFlowControlWindows(new grpc.Server(), { streamWindowBytes: 2 ** 31, connectionWindowBytes: 65_535 })).toThrow(RangeError);
  });

  it('gives each StrataClient a connection of its own, so one client at the stream cap does not stall another', async () => {
    const busy = new StrataClient({ address: `127.0.0.1:${server.port}` });
    const other = new StrataClient({ address: `127.0.0.1:${server.port}` });
    const controller = new AbortController();
    // A subscription that waits for data on the server is open.
    let waitingCount = 0;
    const waitForData = server.broker.waitForData.bind(server.broker);
    server.broker.waitForData = (...args) => {
      waitingCount++;
      return waitForData(...args);
    };
    try {
      await busy.admin.createTopic('quiet', { partitions: 1 });
      // As many open subscriptions as the server allows streams on one connection.
      const followers = Array.from({ length: MAX_STREAMS }, async () => {
        for await (const record of busy.consume('quiet', { from: 'latest', signal: controller.signal })) void record;
      });
      for (const follower of followers) follower.catch(() => undefined);
      await eventually(() => waitingCount >= MAX_STREAMS, { what: `${MAX_STREAMS} subscriptions open on the busy client's connection` });
      const answer = await Promise.race([other.admin.listTopics().then(() => 'answered'), new Promise((r) => setTimeout(() => r('stalled'), 5_000))]);
      expect(answer).toBe('answered');
    } finally {
      server.broker.waitForData = waitForData;
      controller.abort();
      busy.close();
      other.close();
    }
  }, 20_000);
});

