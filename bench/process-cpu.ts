/**
 * CPU time of processes, for cost-per-byte figures: on a shared 2-core machine throughput moves with
 * the neighbours, while CPU milliseconds per MB moved is a property of the code. Linux only (/proc).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

const CLOCK_TICKS_PER_SEC = (() => {
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim());
  return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
})();

/** The pid and every process below it (a server started under child-guard is its child). */
function processTree(pid: number): number[] {
  const found = [pid];
  for (let i = 0; i < found.length && i < 64; i++) {
    let tasks: string[] = [];
    try {
      tasks = fs.readdirSync(`/proc/${found[i]}/task`);
    } catch {
      continue; // gone meanwhile
    }
    for (const tid of tasks) {
      try {
        for (const child of fs.readFileSync(`/proc/${found[i]}/task/${tid}/children`, 'utf8').split(' ')) if (child.trim()) found.push(Number(child));
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return found;
}

/** User + system CPU of a process and its descendants, in ms (every thread); 0 for a gone process. */
export function processTreeCpuMs(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
      const fields = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_SEC;
}

/** This process's own CPU (every thread), in ms. */
export function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** CPU of this process (the client) and of a server process tree between start() and the call to stop. */
export function startCpuMeter(serverPid: number | undefined): () => { clientMs: number; serverMs: number } {
  const client0 = ownCpuMs();
  const server0 = serverPid === undefined ? 0 : processTreeCpuMs(serverPid);
  return () => ({ clientMs: ownCpuMs() - client0, serverMs: serverPid === undefined ? 0 : processTreeCpuMs(serverPid) - server0 });
}

/** CPU per MB of both processes together and of each, from a startCpuMeter reading. */
export function cpuPerMb(cpu: { clientMs: number; serverMs: number }, mb: number): { cpuMsPerMb: number; clientCpuMsPerMb: number; serverCpuMsPerMb: number } {
  return { cpuMsPerMb: (cpu.clientMs + cpu.serverMs) / mb, clientCpuMsPerMb: cpu.clientMs / mb, serverCpuMsPerMb: cpu.serverMs / mb };
}
