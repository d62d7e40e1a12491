import type { HttpServer } from '../http/http-server.js';
import type { ServerMetrics } from './server-metrics.js';

/** `GET /metrics`: the Prometheus text exposition (HEAD too). */
export function registerMetricsRoutes(http: HttpServer, metrics: ServerMetrics): void {
  http.route('GET', '/metrics', async () => ({ status: 200, body: await metrics.scrape(), contentType: metrics.contentType }));
}
