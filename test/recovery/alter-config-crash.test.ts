import { describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { eventually } from '../helpers/eventually.js';
import { SeededRandom, seedsFromEnv } from '../helpers/seeded-random.js';
import { startServerProcess } from '../helpers/server-process.js';
import { useTempDir } from '../helpers/temp-dir.js';

const KILL_ROUNDS = 5;

/** The overrides of change number `n`: retention.ms and flush move together, so a half-applied change would show. */
function overridesOf(n: number): Record<string, string> {
  // Keys in sorted order, as the comparison below sorts what describe answers.
  return { flush: n % 2 === 0 ? 'always' : 'interval', 'retention.ms': String(60_000 + n), 'segment.ms': String(3_600_000 + n) };
}

/**
 * A real server process SIGKILLed while a client alters a topic's config, one change after another:
 * after each restart the topic has the config of the last change answered or of the one in flight,
 * whole (never a mix, never an older one), and it takes appends.
 */
describe('AlterTopicConfig across SIGKILL of the server process', () => {
  const dir = useTempDir();

  it.each(seedsFromEnv([7]))('keeps the last answered change or the one in flight, whole (seed %i)', async (seed) => {
    const random = new SeededRandom(seed);
    let next = 0;
    let lastAnswered = -1;
    for (let round = 0; round < KILL_ROUNDS; round++) {
      const server = await startServerProcess(dir.path);
      const client = new StrataClient({ address: server.address });
      try {
        if (round === 0) await client.admin.createTopic('cfg', { partitions: 2 });
        else {
          const { configOverrides } = await client.admin.describeTopic('cfg');
          // The topic was created with no overrides: that is the config until a change is answered.
          const allowed = [lastAnswered, next - 1].map((n) => JSON.stringify(n >= 0 ? overridesOf(n) : {}));
          expect(allowed, `round ${round} (seed ${seed}): overrides after the kill`).toContain(JSON.stringify(Object.fromEntries(Object.entries(configOverrides).sort())));
          const recovered = allowed.indexOf(JSON.stringify(Object.fromEntries(Object.entries(configOverrides).sort())));
          lastAnswered = recovered === allowed.length - 1 ? next - 1 : lastAnswered;
          const producer = client.producer({ lingerMs: 0 });
          await producer.send('cfg', { value: `round ${round}` });
          await producer.close();
        }
        let isKilled = false;
        let answeredThisRound = 0;
        const changes = (async () => {
          while (!isKilled) {
            const n = next++;
            await client.admin.alterTopicConfig('cfg', { set: overridesOf(n) });
            lastAnswered = n;
            answeredThisRound++;
          }
        })().catch(() => undefined);
        // At a random moment after the round's first answer, so that the kill finds a change under way.
        await eventually(() => answeredThisRound > 0, { what: 'a change answered', timeoutMs: 30_000 });
        await new Promise((resolve) => setTimeout(resolve, random.int(0, 200)));
        isKilled = true;
        await server.stop('SIGKILL');
        await changes;
      } finally {
        client.close();
        await server.stop('SIGKILL');
      }
    }
    expect(lastAnswered, 'changes answered before the kills').toBeGreaterThanOrEqual(KILL_ROUNDS - 1);
  }, 120_000);
});
