import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, ShuttingDownError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { HttpError, HttpServer, readJsonBody } from '../../../src/server/http/http-server.js';
import { httpCall } from '../../helpers/http-call.js';

describe('HttpServer', () => {
  let server: HttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(setup: (http: HttpServer) => void, options = {}): Promise<number> {
    server = new HttpServer(silentLogger, options);
    setup(server);
    return server.listen('127.0.0.1', 0);
  }

  it('routes by method and path, with :params URI-decoded and a trailing * for the rest', async () => {
    const port = await start((http) =>
      http
        .route('GET', '/subjects/:subject/versions/:version', (req) => ({ status: 200, body: req.params }))
        .route('GET', '/static/*', (req) => ({ status: 200, body: req.params['*'], contentType: 'text/plain' })),
    );
    const answer = await httpCall(port, 'GET', '/subjects/orders%2Dvalue/versions/3');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(JSON.parse(answer.body)).toEqual({ subject: 'orders-value', version: '3' });
    expect((await httpCall(port, 'GET', '/static/js/app.js')).body).toBe('js/app.js');
    const head = await httpCall(port, 'HEAD', '/static/a');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('answers 404 for an unknown path, 405 for a known path with another method, 400 for a bad escape', async () => {
    const port = await start((http) => http.route('GET', '/a/:x', () => ({ status: 200, body: {} })));
    const missing = await httpCall(port, 'GET', '/nope');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toEqual({ error: { code: 'NOT_FOUND', message: 'no route /nope' } });
    expect((await httpCall(port, 'POST', '/a/1')).status).toBe(405);
    const bad = await httpCall(port, 'GET', '/a/%E0%A4%A');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.code).toBe('BAD_PATH');
  });

  it('maps thrown errors: HttpError as given, StrataError by retriability, others 500 without details', async () => {
    const port = await start((http) =>
      http
        .route('GET', '/http', () => {
          throw new HttpError(409, 'CONFLICT', 'taken');
        })
        .route('GET', '/bad', () => {
          throw new InvalidArgumentError('no such thing');
        })
        .route('GET', '/later', () => {
          throw new ShuttingDownError('try again');
        })
        .route('GET', '/bug', () => {
          throw new Error('secret detail');
        })
        .route('GET', '/mapped/x', () => {
          throw new Error('mine');
        })
        .mapErrors('/mapped', () => ({ status: 422, body: { error_code: 42201, message: 'mapped' } })),
    );
    expect(await httpCall(port, 'GET', '/http')).toMatchObject({ status: 409 });
    expect(JSON.parse((await httpCall(port, 'GET', '/bad')).body)).toEqual({ error: { code: 'INVALID_ARGUMENT', message: 'no such thing' } });
    expect((await httpCall(port, 'GET', '/bad')).status).toBe(400);
    expect((await httpCall(port, 'GET', '/later')).status).toBe(503);
    const bug = await httpCall(port, 'GET', '/bug');
    expect(bug.status).toBe(500);
    expect(bug.body).not.toContain('secret');
    expect(JSON.parse((await httpCall(port, 'GET', '/mapped/x')).body)).toEqual({ error_code: 42201, message: 'mapped' });
  });

  it('reads a JSON body within its bound and refuses a larger one with 413', async () => {
    const port = await start((http) => http.route('POST', '/echo', async (req) => ({ status: 200, body: { got: await readJsonBody(req.raw, 64) } })));
    expect(JSON.parse((await httpCall(port, 'POST', '/echo', '{"a":1}', { 'content-type': 'application/json' })).body)).toEqual({ got: { a: 1 } });
    const large = await httpCall(port, 'POST', '/echo', JSON.stringify({ a: 'x'.repeat(100) }));
    expect(large.status).toBe(413);
    expect(JSON.parse(large.body).error.code).toBe('BODY_TOO_LARGE');
    const garbage = await httpCall(port, 'POST', '/echo', '{not json');
    expect(garbage.status).toBe(400);
    expect(JSON.parse(garbage.body).error.code).toBe('BAD_JSON');
  });

  it('close() ends keep-alive connections and resolves', async () => {
    const port = await start((http) => http.route('GET', '/x', () => ({ status: 200, body: 'x' })));
    expect((await httpCall(port, 'GET', '/x', undefined, { connection: 'keep-alive' })).body).toBe('x');
    await server!.close();
    server = undefined;
    await expect(httpCall(port, 'GET', '/x')).rejects.toThrow(/ECONNREFUSED/);
  });
});
