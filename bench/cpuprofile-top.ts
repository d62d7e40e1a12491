/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): the functions with the most self time, and where
 * they are. Used to read the profiles that bench/grpc-bench.ts can produce (see its header).
 *
 *   node dist/bench/cpuprofile-top.js FILE.cpuprofile [--top=N]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function shortUrl(url: string): string {
  if (!url) return '';
  const noScheme = url.replace(/^file:\/\//, '');
  const nodeModules = noScheme.lastIndexOf('node_modules/');
  if (nodeModules >= 0) return noScheme.slice(nodeModules + 'node_modules/'.length);
  const dist = noScheme.lastIndexOf('/dist/');
  if (dist >= 0) return noScheme.slice(dist + 1);
  return noScheme.startsWith('node:') ? noScheme : path.basename(noScheme);
}

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: cpuprofile-top FILE.cpuprofile [--top=N]');
  const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMicros = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const totalMicros = profile.endTime - profile.startTime;
  let idleMicros = 0;
  const byFunction = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)!.callFrame;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') idleMicros += micros;
    const key = `${name}  ${shortUrl(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
  }
  const busyMicros = totalMicros - idleMicros;
  console.log(`${file}: ${(totalMicros / 1e6).toFixed(2)} s profiled, ${(busyMicros / 1e6).toFixed(2)} s busy (${((100 * busyMicros) / totalMicros).toFixed(1)} %)`);
  console.log('self % of all | self % of busy | self ms | function  location');
  const sorted = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, micros] of sorted) {
    const ofBusy = key.startsWith('(idle)') ? '' : ((100 * micros) / busyMicros).toFixed(1);
    console.log(`${((100 * micros) / totalMicros).toFixed(1).padStart(6)} | ${ofBusy.padStart(6)} | ${(micros / 1000).toFixed(0).padStart(7)} | ${key}`);
  }
}

main();
