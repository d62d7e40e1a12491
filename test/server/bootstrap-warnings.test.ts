import { describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { useTempDir } from '../helpers/temp-dir.js';

describe('a server starting on a data dir with only its internal topics', () => {
  const dir = useTempDir();

  it('warns of nothing: the state logs (__consumer_offsets, __queue_state) take batches larger than a request, but no client sends them', async () => {
    for (let run = 0; run < 2; run++) {
      const lines: LogLine[] = [];
      const server = await startServer(resolveServerConfig({ dataDir: dir.path, port: 0, httpPort: 0, host: '127.0.0.1' }), capturingLogger(lines));
      await server.close();
      // The second start reopens the internal topics the first one created.
      expect(lines.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([]);
    }
  });
});
