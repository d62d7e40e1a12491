import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpServer } from '../http-server.js';

/**
 * The console's front end: files that `make build` bundles with esbuild from console/ into
 * dist/console/ (index.html, app.js, app.css). They are read into memory once, when the routes are
 * registered: a request can only ever get one of those files (no path reaches the file system), and
 * nothing is fetched from elsewhere, so the console works offline.
 *
 * Every answer carries a strict Content-Security-Policy: scripts, styles and API calls from this
 * origin only, no inline script or style elements, no frames, no plugins, no form posts elsewhere.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** At most this many files, of at most this many bytes together, are held (a stray large file is refused, not served). */
const MAX_ASSET_FILES = 64;
const MAX_ASSET_BYTES = 16 * 1024 * 1024;

/** dist/console of the package this file belongs to (found from here up to package.json, so it works from src/ and from dist/). */
export function defaultConsoleAssetsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'console');
    dir = dirname(dir);
  }
  return join(process.cwd(), 'dist', 'console');
}

export function loadConsoleAssets(dir: string): Map<string, Buffer> {
  const assets = new Map<string, Buffer>();
  if (!existsSync(dir)) return assets;
  let totalBytes = 0;
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (!CONTENT_TYPES[extname(name)] || !statSync(path).isFile()) continue;
    const bytes = readFileSync(path);
    totalBytes += bytes.length;
    if (assets.size >= MAX_ASSET_FILES || totalBytes > MAX_ASSET_BYTES) throw new Error(`the console's assets in ${dir} are more than ${MAX_ASSET_FILES} files or ${MAX_ASSET_BYTES} bytes`);
    assets.set(name, bytes);
  }
  return assets;
}

export function registerConsoleAssets(http: HttpServer, assets: ReadonlyMap<string, Buffer>): void {
  const headers = (cacheControl: string) => ({ 'content-security-policy': CONSOLE_CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': cacheControl });
  const index = assets.get('index.html');
  http.route('GET', '/', () =>
    index
      ? { status: 200, body: index, contentType: CONTENT_TYPES['.html'], headers: headers('no-cache') }
      : { status: 503, body: 'the console is not built: run `make build` (it bundles console/ into dist/console/)\n', headers: headers('no-store') },
  );
  http.route('GET', '/assets/:name', (request) => {
    const name = request.params['name']!;
    const bytes = name === 'index.html' ? undefined : assets.get(name);
    if (!bytes) return { status: 404, body: `no console asset '${name}'\n`, headers: headers('no-store') };
    // Names do not change with contents (no hashes), so the browser asks again each time; it is local.
    return { status: 200, body: bytes, contentType: CONTENT_TYPES[extname(name)]!, headers: headers('no-cache') };
  });
}
