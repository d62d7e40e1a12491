import type { HttpServer } from './http-server.js';

/**
 * What the probes read. `live`: the process answers (the event loop turns); `ready`: recovery is
 * done and the gRPC listener takes calls, until a shutdown begins.
 */
export interface ReadinessView {
  readonly phase: 'starting' | 'ready' | 'stopping';
  /** Why the server is not ready yet (e.g. 'recovering logs'), for the probe's body. */
  readonly detail: string;
}

/**
 * `/healthz` answers 200 while the process runs (a liveness probe: restart it when this fails);
 * `/readyz` answers 200 only once the server is ready, 503 before (recovery) and during a shutdown
 * (a readiness probe: send no traffic while it fails). Both answer JSON, and HEAD works for both.
 */
export function registerHealthRoutes(http: HttpServer, readiness: () => ReadinessView): void {
  http.route('GET', '/healthz', () => ({ status: 200, body: { status: 'ok' } }));
  http.route('GET', '/readyz', () => {
    const view = readiness();
    return view.phase === 'ready'
      ? { status: 200, body: { status: 'ready' } }
      : { status: 503, body: { status: view.phase, detail: view.detail } };
  });
}
