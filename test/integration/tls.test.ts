import { spawn } from 'node:child_process';
import { readFileSync, copyFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StrataClient, type StrataClientOptions } from '../../src/client/strata-client.js';
import { InvalidConfigError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer, type RunningServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig, type ServerConfig } from '../../src/server/server-config.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { rejection } from '../helpers/rejection.js';
import { STRATA_BIN, startServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/test-certificates.js';

let certs: TestCertificates;
let certDir: { path: string; remove: () => Promise<void> };
const cleanups: Array<() => Promise<unknown> | void> = [];

beforeAll(async () => {
  certDir = await makeTempDir();
  certs = makeTestCertificates(certDir.path);
});
afterAll(async () => {
  await certDir.remove();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(config: Partial<ServerConfig>, logger = silentLogger): Promise<RunningServer> {
  const dir = await makeTempDir();
  cleanups.push(() => dir.remove());
  const server = await startServer(resolveServerConfig({ dataDir: dir.path, port: 0, httpPort: 0, host: '127.0.0.1', ...config }), logger);
  cleanups.push(() => server.close());
  return server;
}

function client(server: RunningServer, options: Omit<StrataClientOptions, 'address'>): StrataClient {
  const c = new StrataClient({ address: `127.0.0.1:${server.port}`, callTimeoutMs: 3_000, ...options });
  cleanups.push(() => c.close());
  return c;
}

const pem = (path: string) => readFileSync(path);

/** The certificate a fresh TLS handshake on `port` presents (ALPN h2 for the gRPC port). */
function peerCertificate(port: number, ca: string, alpn = 'h2', client: { cert: string; key: string } | undefined = undefined): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: pem(ca), ALPNProtocols: [alpn], servername: 'localhost', ...(client ? { cert: pem(client.cert), key: pem(client.key) } : {}) }, () => {
      resolve(socket.getPeerCertificate());
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

function httpsGet(port: number, path: string, options: { ca?: string; cert?: string; key?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, agent: false, ...(options.ca ? { ca: pem(options.ca) } : {}), ...(options.cert ? { cert: pem(options.cert), key: pem(options.key!) } : {}) },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('TLS on both listeners', () => {
  it('serves a client that trusts its CA, and refuses plaintext, the wrong CA and TLS below 1.2', async () => {
    const lines: LogLine[] = [];
    const server = await start({ tlsCertFile: certs.serverCert, tlsKeyFile: certs.serverKey }, capturingLogger(lines));
    // The HTTP/2 window and the per-address connection count reach grpc-js's TLS server too.
    expect(lines.map((line) => line.msg)).toEqual([]);
    const trusting = client(server, { tls: { ca: pem(certs.caCert) } });
    await trusting.admin.createTopic('secure', { partitions: 1 });
    expect((await trusting.admin.listTopics()).map((t) => t.name)).toEqual(['secure']);

    const plaintext = client(server, {});
    expect(await rejection(plaintext.admin.listTopics())).toMatchObject({ grpcStatus: 14 });
    const wrongCa = client(server, { tls: { ca: pem(certs.otherCaCert) } });
    expect(await rejection(wrongCa.admin.listTopics())).toMatchObject({ grpcStatus: 14 });

    expect(await httpsGet(server.httpPort!, '/readyz', { ca: certs.caCert })).toMatchObject({ status: 200 });
    await expect(httpsGet(server.httpPort!, '/readyz', { ca: certs.otherCaCert })).rejects.toThrow(/self.signed|unable to verify|certificate/i);
    const old = new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: server.port, ca: pem(certs.caCert), maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => resolve('connected'));
      socket.on('error', reject);
    });
    await expect(old).rejects.toThrow();
  });

  it('mutual TLS: a client certificate signed by the client CA is required; missing, expired or foreign ones are refused', async () => {
    // Mutual TLS authenticates (alice is the certificate's CN), so ACLs apply: alice is a super user here.
    const server = await start({ tlsCertFile: certs.serverCert, tlsKeyFile: certs.serverKey, tlsClientCaFile: certs.caCert, superUsers: ['alice'] });
    const alice = client(server, { tls: { ca: pem(certs.caCert), cert: pem(certs.clientCert), key: pem(certs.clientKey) } });
    await alice.admin.createTopic('mtls', { partitions: 1 });
    for (const [what, options] of [
      ['no certificate', { ca: pem(certs.caCert) }],
      ['an expired certificate', { ca: pem(certs.caCert), cert: pem(certs.expiredClientCert), key: pem(certs.expiredClientKey) }],
      ['a certificate of another CA', { ca: pem(certs.caCert), cert: pem(certs.strangerCert), key: pem(certs.strangerKey) }],
    ] as const) {
      const refused = client(server, { tls: options });
      expect(await rejection(refused.admin.listTopics()), what).toMatchObject({ grpcStatus: 14 });
    }
    expect(await httpsGet(server.httpPort!, '/healthz', { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey })).toMatchObject({ status: 200 });
    await expect(httpsGet(server.httpPort!, '/healthz', { ca: certs.caCert })).rejects.toThrow();
  });

  it('reloads the files: new handshakes get the new certificate, open connections go on, a bad file keeps the old ones', async () => {
    const live = await makeTempDir();
    cleanups.push(() => live.remove());
    const certFile = join(live.path, 'server.pem');
    const keyFile = join(live.path, 'server.key');
    copyFileSync(certs.serverCert, certFile);
    copyFileSync(certs.serverKey, keyFile);
    const server = await start({ tlsCertFile: certFile, tlsKeyFile: keyFile });
    const before = client(server, { tls: { ca: pem(certs.caCert) } });
    await before.admin.createTopic('rotating', { partitions: 1 });
    expect((await peerCertificate(server.port, certs.caCert)).subject.CN).toBe('strata-server');

    copyFileSync(certs.rotatedServerCert, certFile);
    copyFileSync(certs.rotatedServerKey, keyFile);
    expect(server.reloadTls()).toBeUndefined();
    expect((await peerCertificate(server.port, certs.caCert)).subject.CN).toBe('strata-server-rotated');
    expect((await peerCertificate(server.httpPort!, certs.caCert, 'http/1.1')).subject.CN).toBe('strata-server-rotated');
    expect((await before.admin.listTopics()).map((t) => t.name), 'the connection made before the reload').toEqual(['rotating']);

    writeFileSync(certFile, 'not a certificate');
    expect(server.reloadTls()).toBeInstanceOf(InvalidConfigError);
    copyFileSync(certs.expiredServerCert, certFile);
    copyFileSync(certs.expiredServerKey, keyFile);
    expect(server.reloadTls()?.message).toMatch(/expired/);
    expect((await peerCertificate(server.port, certs.caCert)).subject.CN).toBe('strata-server-rotated');
    const after = client(server, { tls: { ca: pem(certs.caCert) } });
    expect((await after.admin.listTopics()).map((t) => t.name)).toEqual(['rotating']);
  });

  it('refuses bad TLS settings at startup, each in one line naming the file or the fix', async () => {
    const refused = async (config: Partial<ServerConfig>) => rejection(start(config));
    expect(await refused({ tlsCertFile: certs.expiredServerCert, tlsKeyFile: certs.expiredServerKey })).toMatchObject({ message: expect.stringMatching(/expired/) });
    expect(await refused({ tlsCertFile: certs.serverCert, tlsKeyFile: certs.clientKey })).toMatchObject({ message: expect.stringMatching(/is not the key of the certificate/) });
    expect(await refused({ tlsCertFile: join(certDir.path, 'missing.pem'), tlsKeyFile: certs.serverKey })).toMatchObject({ message: expect.stringMatching(/cannot read the TLS certificate .*ENOENT/) });
    expect(() => resolveServerConfig({ tlsCertFile: certs.serverCert })).toThrow(/both a certificate and its key/);
    expect(() => resolveServerConfig({ tlsClientCaFile: certs.caCert })).toThrow(/needs the server's own/);
    expect(() => resolveServerConfig({ host: '0.0.0.0' })).toThrow(InvalidConfigError);
    expect(() => resolveServerConfig({ host: '0.0.0.0' })).toThrow(/allowPlaintext/);
    expect(resolveServerConfig({ host: '127.0.0.2' }).host).toBe('127.0.0.2');
    expect(resolveServerConfig({ host: '0.0.0.0', tlsCertFile: certs.serverCert, tlsKeyFile: certs.serverKey }).host).toBe('0.0.0.0');
  });

  it('allowPlaintext lets a plaintext listener bind beyond loopback, with a warning at every start', async () => {
    const lines: LogLine[] = [];
    const server = await start({ host: '0.0.0.0', allowPlaintext: true }, capturingLogger(lines));
    expect(lines.some((line) => /PLAINTEXT on a listener/.test(line.msg))).toBe(true);
    const c = new StrataClient({ address: `127.0.0.1:${server.port}` });
    cleanups.push(() => c.close());
    expect(await c.admin.listTopics()).toEqual([]);
  });
});

describe('TLS through strata serve and the CLI', () => {
  function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [STRATA_BIN, ...args], { env: { ...process.env, ...env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('serves mutual TLS from flags, takes the client side from flags or STRATA_TLS_*, and reloads on SIGHUP', async () => {
    const dir = await makeTempDir();
    cleanups.push(() => dir.remove());
    const certFile = join(dir.path, 'server.pem');
    const keyFile = join(dir.path, 'server.key');
    copyFileSync(certs.serverCert, certFile);
    copyFileSync(certs.serverKey, keyFile);
    const server = await startServerProcess(join(dir.path, 'data'), ['--tls-cert', certFile, '--tls-key', keyFile, '--tls-client-ca', certs.caCert, '--super-user', 'alice']);
    cleanups.push(() => server.stop());
    const created = await cli(['--server', server.address, '--tls-ca', certs.caCert, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey, 'topics', 'create', 'cli-tls', '--partitions', '1']);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const listed = await cli(['--server', server.address, 'topics', 'list', '--json'], { STRATA_TLS_CA: certs.caCert, STRATA_TLS_CERT: certs.clientCert, STRATA_TLS_KEY: certs.clientKey });
    expect(listed.stdout).toContain('cli-tls');
    const withoutCertificate = await cli(['--server', server.address, '--tls-ca', certs.caCert, 'topics', 'list']);
    expect(withoutCertificate.code).toBe(1);
    const halfPair = await cli(['--server', server.address, '--tls-cert', certs.clientCert, 'topics', 'list']);
    expect(halfPair.stderr).toMatch(/needs both --tls-cert and --tls-key/);

    copyFileSync(certs.rotatedServerCert, certFile);
    copyFileSync(certs.rotatedServerKey, keyFile);
    server.child.kill('SIGHUP');
    const deadlineMs = Date.now() + 10_000;
    let subject = '';
    while (Date.now() < deadlineMs && subject !== 'strata-server-rotated') {
      subject = (await peerCertificate(server.port, certs.caCert, 'h2', { cert: certs.clientCert, key: certs.clientKey })).subject.CN;
    }
    expect(subject).toBe('strata-server-rotated');
    expect(server.child.exitCode, 'SIGHUP does not stop the server').toBeNull();
  }, 60_000);
});
