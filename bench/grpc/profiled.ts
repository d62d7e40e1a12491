import * as fs from 'node:fs';
import * as path from 'node:path';
import { Session } from 'node:inspector/promises';
import { log } from './report-format.js';

/** Profiles this process (node:inspector) while `body` runs, if --client-cpu-prof gave a directory. */
export async function profiled<T>(name: string, clientCpuProfDir: string | undefined, body: () => Promise<T>): Promise<T> {
  if (!clientCpuProfDir) return body();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await body();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    fs.mkdirSync(clientCpuProfDir, { recursive: true });
    const file = path.join(clientCpuProfDir, `client-${name}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    log(`  (client CPU profile of this step: ${file})`);
    session.disconnect();
  }
}
