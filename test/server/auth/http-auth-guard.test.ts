import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { HTTP_ROUTE_ACCESS_TABLE } from '../../../src/server/auth/http-auth-guard.js';
import { registerConsole } from '../../../src/server/http/console/console-routes.js';
import { registerHealthRoutes } from '../../../src/server/http/health-routes.js';
import { HttpServer } from '../../../src/server/http/http-server.js';

describe('the HTTP access table', () => {
  it('has a row for every route the server registers (health and console)', () => {
    const http = new HttpServer(silentLogger);
    const registered: string[] = [];
    const original = http.route.bind(http);
    http.route = (method, pattern, handler) => {
      registered.push(`${method.toUpperCase()} ${pattern}`);
      return original(method, pattern, handler);
    };
    registerHealthRoutes(http, () => ({ phase: 'ready', detail: '' }));
    const stub = new Proxy({}, { get: () => () => [] });
    const routes = registerConsole(http, { broker: stub, topics: stub, groups: stub, queues: stub, clock: new ManualClock(), areActionsEnabled: false } as never);
    routes.stop();
    expect(registered.length).toBeGreaterThan(10);
    expect(registered.filter((route) => HTTP_ROUTE_ACCESS_TABLE[route] === undefined)).toEqual([]);
  });
});
