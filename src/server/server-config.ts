import { readFileSync } from 'node:fs';
import { InvalidConfigError } from '../core/errors.js';
import { MAX_REQUEST_BYTES, MIN_BUDGET_STREAMS, MIN_REQUEST_BYTES, REQUEST_FIELDS_BYTES } from '../core/limits.js';
import { DEFAULT_HTTP2_WINDOW_BYTES, MAX_HTTP2_WINDOW_BYTES } from './flow-control-window.js';
import { resolveGroupConfig, type GroupConfig } from '../groups/group-config.js';
import type { JwtSettings } from './auth/jwt-verifier.js';
import { type QuotaValues, validateQuotaValues } from '../quotas/principal-quotas.js';

/**
 * Server settings. `strata serve --config FILE` reads a JSON object with any of these keys; command
 * line flags win over the file.
 */
export interface ServerConfig {
  dataDir: string;
  host: string;
  port: number;
  /**
   * The HTTP port on the same host: /healthz, /readyz, /metrics, the console and the schema
   * registry's REST API (0: any free port, -1: no HTTP listener).
   */
  httpPort: number;
  /**
   * TLS on both listeners (gRPC and HTTP): PEM files of the server's certificate chain and key, and
   * optionally the CA that client certificates must chain to (then every client must present one:
   * mutual TLS). Empty: plaintext. The files are read again on SIGHUP (new handshakes use them, open
   * connections keep theirs).
   */
  tlsCertFile: string;
  tlsKeyFile: string;
  tlsClientCaFile: string;
  /**
   * A listener on anything but a loopback address carries every topic to whoever reaches it: without
   * TLS it is refused at startup unless this is true (then a warning is logged at every start).
   */
  allowPlaintext: boolean;
  /**
   * Whether the web console (on the HTTP port) may change state: redrive dead letters, reset offsets,
   * delete topics and groups. Off by default: the console is read-only and its API answers 403.
   */
  consoleActions: boolean;
  /**
   * Authentication (README "Authentication and ACLs"): a JSON file of static bearer tokens, each a
   * principal and the SHA-256 of its token (`strata auth hash-token`); JWT settings (issuer,
   * audience, keys, principal claim). With either, or mutual TLS (tlsClientCaFile), every call needs
   * credentials and every access an ACL (deny by default); without any, everything is allowed as
   * ANONYMOUS.
   */
  authTokensFile: string;
  jwt: JwtSettings | null;
  /** Principals that may do anything, whatever the ACLs say (Kafka's super.users). */
  superUsers: string[];
  logLevel: string;
  /**
   * The largest gRPC message the server accepts: a produce request is one or more batches plus
   * REQUEST_FIELDS_BYTES of other fields. A topic's max.message.bytes may not exceed what fits
   * (largestAcceptedBatchBytes), so every batch a topic accepts can reach it; the default fits the
   * default max.message.bytes (1 MiB), and the setting may only be raised from there.
   */
  maxRequestBytes: number;
  /**
   * HTTP/2 receive windows: how many bytes a client may send on one stream, and on one connection,
   * before the server reads them (HTTP/2's default is 64 KiB; larger ones let produce requests
   * pipeline). A connection can make the server hold at most streamWindowBytes unread per open
   * stream, and it may open maxConcurrentStreams streams; each open call reserves its window (and
   * one request of maxRequestBytes) from memoryBudgetBytes.
   */
  streamWindowBytes: number;
  connectionWindowBytes: number;
  maxConcurrentStreams: number;
  /**
   * At startup, producer sequences are rebuilt from this many bytes at the end of each partition, so
   * that a retry across a restart of a batch in that tail is answered as a duplicate (0: not at all).
   * All producers of a partition share it: the default holds the whole in-flight window of two busy
   * producers at default settings (8 requests x 4 batches x 16 KiB = 512 KiB each). A retry of a
   * batch older than the tail is refused with DUPLICATE_SEQUENCE (it may be in the log).
   */
  producerStateTailBytes: number;
  /**
   * Bytes one Subscribe stream may hold in the server at once, across its partitions (responses read
   * and not yet flushed to HTTP/2; at least two responses of the stream's max_bytes): what a
   * subscriber that stops reading costs the server, however many partitions it reads.
   */
  subscriptionBufferBytes: number;
  /**
   * Everything clients can make the server hold, summed over all connections and streams: HTTP/2
   * windows and requests being received, Subscribe buffers, produce requests being appended,
   * heartbeat answers not yet read (memory-budget.ts, admission-gate.ts). Past it, new connections
   * and streams are refused with RESOURCE_EXHAUSTED (MEMORY_BUDGET_EXHAUSTED) and open streams get
   * smaller shares. The process needs this plus its base: 85-118 MiB of RSS measured idle, and up to
   * 96 MiB more of V8's young generation under hundreds of calls (memory-budget.test.ts).
   */
  memoryBudgetBytes: number;
  /**
   * Connections and open calls (streams, unary calls in progress) one client address may have at
   * once; past them, calls are refused with RESOURCE_EXHAUSTED (TOO_MANY_CONNECTIONS,
   * TOO_MANY_STREAMS), so one host cannot take the whole memory budget from the others. Streams are
   * many: a group member reads each partition it owns on a Subscribe stream of its own.
   */
  maxConnectionsPerAddress: number;
  maxStreamsPerAddress: number;
  /** How often the server pings an idle connection, and how long it waits for the answer. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** How long a shutdown waits for in-flight appends before closing streams anyway. */
  shutdownGraceMs: number;
  retentionCheckIntervalMs: number;
  /** Consumer group settings (session timeout, heartbeat interval, ...): see groups/group-config.ts. */
  groups: Partial<GroupConfig>;
  /** Prometheus metrics on the HTTP port (/metrics); false: no /metrics, and nothing is counted. */
  metrics: boolean;
  /**
   * Partition series one per-partition metric (log offsets and sizes, consumer group lag) shows; past
   * it, whole topics are shown as one series each with partition="all" (README, Metrics).
   */
  metricsMaxPartitionSeries: number;
  /**
   * Quota defaults (README "Quotas"): what every principal gets for the keys that neither its own
   * entry nor the `*` entry in `__quotas` sets (`strata quotas`). `{}`: no limits.
   */
  quotas: QuotaValues;
}

/** The largest max.message.bytes a topic on this server may have: its batches must fit in a request. */
export function largestAcceptedBatchBytes(config: Pick<ServerConfig, 'maxRequestBytes'>): number {
  return config.maxRequestBytes - REQUEST_FIELDS_BYTES;
}

/**
 * What each open call reserves of the memory budget before its handler runs: the HTTP/2 stream
 * window (bytes the peer may send on it that the server has not read) and one request message that
 * grpc-js assembles, or keeps read ahead, before a handler takes it (see admission-gate.ts).
 */
export function streamReservedBytes(config: Pick<ServerConfig, 'streamWindowBytes' | 'maxRequestBytes'>): number {
  return config.streamWindowBytes + config.maxRequestBytes;
}

export const DEFAULT_SERVER_CONFIG: Readonly<ServerConfig> = Object.freeze({
  dataDir: 'data',
  host: '127.0.0.1',
  port: 7070,
  httpPort: 9644,
  tlsCertFile: '',
  tlsKeyFile: '',
  tlsClientCaFile: '',
  allowPlaintext: false,
  consoleActions: false,
  authTokensFile: '',
  jwt: null,
  superUsers: [],
  logLevel: 'info',
  // One default-sized batch plus room for the request's other fields.
  maxRequestBytes: MIN_REQUEST_BYTES,
  streamWindowBytes: 1024 * 1024,
  connectionWindowBytes: 8 * 1024 * 1024,
  maxConcurrentStreams: 1000,
  producerStateTailBytes: 1024 * 1024,
  // Replay of 8 partitions at the default 1 MiB responses keeps its four responses per partition.
  subscriptionBufferBytes: 32 * 1024 * 1024,
  memoryBudgetBytes: 512 * 1024 * 1024,
  // A busy client host runs a few processes of a few clients each; at the default windows, 256
  // streams reserve about half the default budget (admission-gate.ts), leaving the rest to others.
  maxConnectionsPerAddress: 64,
  maxStreamsPerAddress: 4_096,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  shutdownGraceMs: 10_000,
  retentionCheckIntervalMs: 5 * 60 * 1000,
  groups: {},
  metrics: true,
  metricsMaxPartitionSeries: 10_000,
  quotas: {},
});

const NUMERIC_KEYS = ['port', 'maxRequestBytes', 'streamWindowBytes', 'connectionWindowBytes', 'maxConcurrentStreams', 'producerStateTailBytes', 'subscriptionBufferBytes', 'memoryBudgetBytes', 'maxConnectionsPerAddress', 'maxStreamsPerAddress', 'keepaliveTimeMs', 'keepaliveTimeoutMs', 'shutdownGraceMs', 'retentionCheckIntervalMs', 'metricsMaxPartitionSeries'] as const;

/** Checks a partial configuration (from a file or flags) and fills in the defaults. */
export function resolveServerConfig(...layers: ReadonlyArray<Partial<ServerConfig>>): ServerConfig {
  const config: ServerConfig = { ...DEFAULT_SERVER_CONFIG };
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      if (!(key in DEFAULT_SERVER_CONFIG)) throw new InvalidConfigError(`unknown server setting '${key}'`);
      (config as unknown as Record<string, unknown>)[key] = value;
    }
  }
  for (const key of NUMERIC_KEYS) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 0) throw new InvalidConfigError(`${key} must be a non-negative integer, got ${String(value)}`);
  }
  if (typeof config.metrics !== 'boolean') throw new InvalidConfigError(`metrics must be true or false, got ${String(config.metrics)}`);
  if (config.port > 65535) throw new InvalidConfigError(`port must be at most 65535, got ${config.port}`);
  if (!Number.isInteger(config.httpPort) || config.httpPort < -1 || config.httpPort > 65535) {
    throw new InvalidConfigError(`httpPort must be an integer in [0, 65535], or -1 for no HTTP listener, got ${String(config.httpPort)}`);
  }
  if (typeof config.consoleActions !== 'boolean') throw new InvalidConfigError(`consoleActions must be true or false, got ${JSON.stringify(config.consoleActions)}`);
  if (config.httpPort !== 0 && config.httpPort === config.port) throw new InvalidConfigError(`httpPort and port are both ${config.port}: give each its own`);
  checkTlsSettings(config);
  checkAuthSettings(config);
  if (config.maxRequestBytes < MIN_REQUEST_BYTES || config.maxRequestBytes > MAX_REQUEST_BYTES) {
    throw new InvalidConfigError(`maxRequestBytes must be in [${MIN_REQUEST_BYTES}, ${MAX_REQUEST_BYTES}] (a default topic's largest batch, up to the largest any topic may have, plus ${REQUEST_FIELDS_BYTES} for the request's other fields), got ${config.maxRequestBytes}`);
  }
  for (const key of ['streamWindowBytes', 'connectionWindowBytes'] as const) {
    if (config[key] < DEFAULT_HTTP2_WINDOW_BYTES || config[key] > MAX_HTTP2_WINDOW_BYTES) {
      throw new InvalidConfigError(`${key} must be in [${DEFAULT_HTTP2_WINDOW_BYTES}, ${MAX_HTTP2_WINDOW_BYTES}], got ${config[key]}`);
    }
  }
  if (config.maxConcurrentStreams < 1) throw new InvalidConfigError('maxConcurrentStreams must be at least 1');
  if (config.subscriptionBufferBytes < 1024 * 1024) throw new InvalidConfigError(`subscriptionBufferBytes must be at least 1048576, got ${config.subscriptionBufferBytes}`);
  if (config.maxConnectionsPerAddress < 1) throw new InvalidConfigError('maxConnectionsPerAddress must be at least 1');
  if (config.maxStreamsPerAddress < 1) throw new InvalidConfigError('maxStreamsPerAddress must be at least 1');
  const smallestBudgetBytes = MIN_BUDGET_STREAMS * streamReservedBytes(config);
  if (config.memoryBudgetBytes < smallestBudgetBytes) {
    throw new InvalidConfigError(`memoryBudgetBytes must hold at least ${MIN_BUDGET_STREAMS} streams' reservations (streamWindowBytes + maxRequestBytes each): at least ${smallestBudgetBytes}, got ${config.memoryBudgetBytes}`);
  }
  resolveGroupConfig(config.groups);
  config.quotas = checkQuotaDefaults(config.quotas);
  return config;
}

function checkTlsSettings(config: ServerConfig): void {
  for (const key of ['tlsCertFile', 'tlsKeyFile', 'tlsClientCaFile'] as const) {
    if (typeof config[key] !== 'string') throw new InvalidConfigError(`${key} must be a file path, got ${String(config[key])}`);
  }
  if (typeof config.allowPlaintext !== 'boolean') throw new InvalidConfigError(`allowPlaintext must be true or false, got ${String(config.allowPlaintext)}`);
  if ((config.tlsCertFile === '') !== (config.tlsKeyFile === '')) throw new InvalidConfigError('TLS needs both a certificate and its key: --tls-cert FILE --tls-key FILE');
  if (config.tlsClientCaFile !== '' && config.tlsCertFile === '') throw new InvalidConfigError('--tls-client-ca (mutual TLS) needs the server\'s own --tls-cert and --tls-key');
  if (!isTlsEnabled(config) && !config.allowPlaintext && !isLoopbackHost(config.host)) {
    throw new InvalidConfigError(`listening on ${config.host} without TLS would let anyone who reaches it read and write every topic: give --tls-cert and --tls-key, or set "allowPlaintext": true in the server config`);
  }
}

function checkAuthSettings(config: ServerConfig): void {
  if (typeof config.authTokensFile !== 'string') throw new InvalidConfigError(`authTokensFile must be a file path, got ${String(config.authTokensFile)}`);
  if (config.jwt !== null && (typeof config.jwt !== 'object' || Array.isArray(config.jwt))) throw new InvalidConfigError('jwt must be an object { issuer, audience, publicKeyFiles or jwksFile, principalClaim } or null');
  if (!Array.isArray(config.superUsers) || !config.superUsers.every((user) => typeof user === 'string' && user !== '')) {
    throw new InvalidConfigError(`superUsers must be a list of principal names, got ${JSON.stringify(config.superUsers)}`);
  }
}

function checkQuotaDefaults(quotas: unknown): QuotaValues {
  if (typeof quotas !== 'object' || quotas === null || Array.isArray(quotas)) throw new InvalidConfigError(`quotas must be an object of quota defaults, e.g. { "producer_byte_rate": 1048576 }, got ${JSON.stringify(quotas)}`);
  try {
    return validateQuotaValues(quotas as Record<string, unknown>);
  } catch (error) {
    throw new InvalidConfigError(`quotas: ${(error as Error).message}`, { cause: error });
  }
}

/** Whether calls need credentials (and accesses ACLs): tokens, JWTs or mutual TLS are configured. */
export function isAuthenticationEnabled(config: Pick<ServerConfig, 'authTokensFile' | 'jwt' | 'tlsClientCaFile'>): boolean {
  return config.authTokensFile !== '' || config.jwt !== null || config.tlsClientCaFile !== '';
}

export function isTlsEnabled(config: Pick<ServerConfig, 'tlsCertFile'>): boolean {
  return config.tlsCertFile !== '';
}

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

export function readServerConfigFile(path: string): Partial<ServerConfig> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as Partial<ServerConfig>;
  } catch (error) {
    throw new InvalidConfigError(`cannot read server config ${path}: ${(error as Error).message}`, { cause: error });
  }
}
