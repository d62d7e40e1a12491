import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { Socket } from 'node:net';
import { StrataError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { TlsCertificates } from '../tls/tls-certificates.js';

/**
 * The broker's HTTP port (`--http-port`, default 9644): health probes, Prometheus metrics, the web
 * console and the schema registry's REST API are routes on it. Node's own http server with a small
 * route table: a handful of routes do not need a framework, and nothing here parses more than a
 * bounded JSON body.
 *
 * Bounds: at most `maxConnections` sockets (further ones are closed by Node at accept), request
 * headers within `headersTimeoutMs`, a whole request within `requestTimeoutMs`, bodies within
 * `maxBodyBytes` (readJsonBody), idle keep-alive sockets closed after `keepAliveTimeoutMs`.
 */
export interface HttpServerOptions {
  maxConnections: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxBodyBytes: number;
}

export const DEFAULT_HTTP_SERVER_OPTIONS: Readonly<HttpServerOptions> = Object.freeze({
  maxConnections: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxBodyBytes: 1024 * 1024,
});

export interface HttpRequest {
  readonly method: string;
  readonly url: URL;
  /** Values of the `:name` segments of the route's pattern, URI-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly raw: IncomingMessage;
  /**
   * Whether the caller may see a resource in a list (the guard sets it from the ACLs: describe on the
   * item, as gRPC's lists are cut); everything without authentication. Lists filter with it before paging.
   */
  mayDescribe: (resourceType: 'topic' | 'group' | 'queue_group' | 'schema_subject', resourceName: string) => boolean;
}

/** What a handler returns: a status and a body (an object is sent as JSON), or nothing when it wrote `res` itself. */
export interface HttpReply {
  status: number;
  body: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export type HttpHandler = (request: HttpRequest, res: ServerResponse) => HttpReply | undefined | Promise<HttpReply | undefined>;

/** A failure with an HTTP status, answered as `{ "error": { "code", "message" } }` (or by a route's own error shape). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * Runs before every matched route's handler (authentication and ACLs, auth/http-auth-guard.ts): throws
 * an HttpError to refuse. `route` is the route as registered, `METHOD /pattern`.
 */
export type HttpGuard = (route: string, request: HttpRequest) => void | Promise<void>;

interface Route {
  method: string;
  /** `METHOD /pattern` as registered, for the guard. */
  key: string;
  /** Path segments; `:name` matches one segment, a final `*` the rest of the path (as `params['*']`). */
  segments: string[];
  handler: HttpHandler;
}

export class HttpServer {
  private readonly routes: Route[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: Server | TlsServer;
  private readonly options: HttpServerOptions;
  private guardCheck: HttpGuard | undefined;
  /** While it says why, a path no route matches is answered 503: its routes may not be registered yet. */
  private startingReason: () => string | undefined = () => undefined;
  private readonly errorMappers: Array<{ prefix: string; map: (error: unknown) => HttpReply | undefined }> = [];

  /** With `tls`, HTTPS on the server's certificates (client certificates required under mutual TLS), reloaded with them. */
  constructor(
    private readonly logger: Logger,
    options: Partial<HttpServerOptions> = {},
    tls?: TlsCertificates,
  ) {
    this.options = { ...DEFAULT_HTTP_SERVER_OPTIONS, ...options };
    const serverOptions = { headersTimeout: this.options.headersTimeoutMs, requestTimeout: this.options.requestTimeoutMs };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => void this.dispatch(req, res);
    if (tls) {
      const server = createTlsServer({ ...serverOptions, ...tls.secureContextOptions() }, onRequest);
      tls.onReload((options) => server.setSecureContext(options));
      // A failed handshake (no client certificate, a wrong CA) is the client's problem: not an error here.
      server.on('tlsClientError', (error) => this.logger.debug({ err: error }, 'https handshake failed'));
      this.server = server;
    } else {
      this.server = createServer(serverOptions, onRequest);
    }
    this.server.maxConnections = this.options.maxConnections;
    this.server.keepAliveTimeout = this.options.keepAliveTimeoutMs;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Adds a route; the first registered route that matches a request answers it. */
  route(method: string, pattern: string, handler: HttpHandler): this {
    this.routes.push({ method: method.toUpperCase(), key: `${method.toUpperCase()} ${pattern}`, segments: splitPath(pattern), handler });
    return this;
  }

  /** Sets the check every request passes before its route's handler runs. */
  guard(check: HttpGuard): this {
    this.guardCheck = check;
    return this;
  }

  /**
   * Routes registered after recovery (the console's API, the schema registry's) do not exist while the
   * server starts: a request for an unknown path then gets 503 with `reason()` (retry), not a 404 that
   * a client would take for "no such subject". `reason` returns undefined once the server is ready.
   */
  whileStarting(reason: () => string | undefined): this {
    this.startingReason = reason;
    return this;
  }

  /** Errors thrown by handlers under `prefix` (HttpErrors included) are answered by `map` when it returns a reply. */
  mapErrors(prefix: string, map: (error: unknown) => HttpReply | undefined): this {
    this.errorMappers.push({ prefix, map });
    return this;
  }

  /** Binds host:port (0: any free port) and returns the port bound. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen({ host, port, exclusive: true }, () => {
        this.server.off('error', onError);
        this.server.on('error', (error) => this.logger.error({ err: error }, 'http server error'));
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /** Stops accepting, ends idle keep-alive sockets at once and the rest once their response is written. */
  close(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      // A long request (a console page's stream) must not hold the shutdown: give it a moment, then end it.
      setTimeout(() => {
        for (const socket of this.sockets) socket.destroy();
      }, 1_000).unref();
    });
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://strata.invalid');
    } catch {
      return send(res, { status: 400, body: errorBody('BAD_REQUEST', 'the request target is not a valid URL') });
    }
    const method = req.method ?? 'GET';
    try {
      const path = splitPath(url.pathname);
      let pathMatched = false;
      for (const route of this.routes) {
        const params = matchPath(route.segments, path);
        if (!params) continue;
        pathMatched = true;
        if (route.method !== method && !(route.method === 'GET' && method === 'HEAD')) continue;
        const request: HttpRequest = { method, url, params, raw: req, mayDescribe: () => true };
        if (this.guardCheck) await this.guardCheck(route.key, request);
        const reply = await route.handler(request, res);
        if (reply) send(res, reply, method === 'HEAD');
        return;
      }
      if (pathMatched) return send(res, { status: 405, body: errorBody('METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}`) });
      const starting = this.startingReason();
      if (starting !== undefined) return send(res, this.replyForError(url.pathname, new HttpError(503, 'STARTING', `the server is starting (${starting}): ${url.pathname} is served once /readyz answers 200`)));
      send(res, { status: 404, body: errorBody('NOT_FOUND', `no route ${url.pathname}`) });
    } catch (error) {
      if (!res.headersSent) send(res, this.replyForError(url.pathname, error));
      else res.destroy();
    }
  }

  private replyForError(pathname: string, error: unknown): HttpReply {
    // A prefix's own mapper first, HttpErrors included: the guard's 401/403 keep the shape its clients parse.
    for (const { prefix, map } of this.errorMappers) {
      if (!pathname.startsWith(prefix)) continue;
      const reply = map(error);
      if (reply) return reply;
    }
    if (error instanceof HttpError) return { status: error.status, body: errorBody(error.code, error.message) };
    if (error instanceof StrataError) return { status: error.retriable ? 503 : 400, body: errorBody(error.code, error.message) };
    this.logger.error({ err: error, path: pathname }, 'http handler failed');
    return { status: 500, body: errorBody('INTERNAL', 'internal error') };
  }
}

export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

/** Reads a request body of at most `maxBytes` and parses it as JSON; HttpError 413/400 otherwise. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number = DEFAULT_HTTP_SERVER_OPTIONS.maxBodyBytes): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new HttpError(413, 'BODY_TOO_LARGE', `the body is ${declared} bytes; at most ${maxBytes} are accepted`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      req.destroy();
      throw new HttpError(413, 'BODY_TOO_LARGE', `the body is over ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  if (total === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (error) {
    throw new HttpError(400, 'BAD_JSON', `the body is not JSON: ${(error as Error).message}`);
  }
}

function send(res: ServerResponse, reply: HttpReply, isHead = false): void {
  const isText = typeof reply.body === 'string' || Buffer.isBuffer(reply.body);
  const payload = isText ? (reply.body as string | Buffer) : JSON.stringify(reply.body) + '\n';
  res.writeHead(reply.status, {
    'content-type': reply.contentType ?? (isText ? 'text/plain; charset=utf-8' : 'application/json'),
    'content-length': Buffer.byteLength(payload),
    ...reply.headers,
  });
  res.end(isHead ? undefined : payload);
}

function splitPath(path: string): string[] {
  return path.split('/').filter((segment) => segment.length > 0);
}

function matchPath(pattern: readonly string[], path: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i]!;
    if (segment === '*' && i === pattern.length - 1) {
      params['*'] = path.slice(i).map(decodeSegment).join('/');
      return params;
    }
    const actual = path[i];
    if (actual === undefined) return undefined;
    if (segment.startsWith(':')) params[segment.slice(1)] = decodeSegment(actual);
    else if (segment !== actual) return undefined;
  }
  return path.length === pattern.length ? params : undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'BAD_PATH', `'${segment}' is not a valid URI path segment`);
  }
}
