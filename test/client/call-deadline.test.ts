import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClientError } from '../../src/client/client-error.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { loadProtocol } from '../../src/protocol/protocol.js';

describe('unary calls have a deadline', () => {
  const server = new grpc.Server();
  let port = 0;
  beforeAll(async () => {
    // An admin service that takes calls and never answers them (the connection stays up).
    server.addService(loadProtocol().protocol.strata.v1.AdminService.service, { ListTopics: () => undefined });
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
    );
  });
  afterAll(() => server.forceShutdown());

  it('a server that never answers fails the call with DEADLINE_EXCEEDED after callTimeoutMs, not never', async () => {
    const client = new StrataClient({ address: `127.0.0.1:${port}`, callTimeoutMs: 200 });
    try {
      const startedMs = Date.now();
      const error = await client.admin.listTopics().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StrataClientError);
      expect((error as StrataClientError).grpcStatus).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(Date.now() - startedMs).toBeLessThan(5_000);
    } finally {
      client.close();
    }
  });

  it('refuses a timeout that is not positive', () => {
    expect(() => new StrataClient({ address: `127.0.0.1:${port}`, callTimeoutMs: 0 })).toThrow(/callTimeoutMs/);
  });
});
