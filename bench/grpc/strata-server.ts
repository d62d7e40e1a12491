import { fileURLToPath } from 'node:url';
import { SERVER_NODE_FLAGS } from '../../src/cli/server-node-flags.js';
import { startChild, type StartedServer } from './child-processes.js';

/** The server under test, guarded (it does not watch its stdin) and on a port of its own choosing. */
export async function startStrata(dataDir: string, serverCpuProfDir: string | undefined): Promise<StartedServer> {
  const bin = fileURLToPath(new URL('../../../bin/strata.js', import.meta.url));
  const nodeArgs = serverCpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${serverCpuProfDir}`] : [];
  const { child, match } = await startChild(
    'strata server',
    process.execPath,
    [...SERVER_NODE_FLAGS, ...nodeArgs, bin, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--log-level', 'warn'],
    /^strata listening on (\S+)$/,
    { guarded: true, removeDir: dataDir },
  );
  return { child, address: match[1]! };
}
