import { request } from 'node:http';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request on a connection of its own (no keep-alive agent: a closed server must refuse, not hang up). */
export function httpCall(port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** httpCall, tried again while the connection is refused (a server still binding), until `timeoutMs`. */
export async function httpCallWhenListening(port: number, method: string, path: string, timeoutMs = 10_000): Promise<HttpAnswer> {
  const deadlineMs = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await httpCall(port, method, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || Date.now() > deadlineMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
