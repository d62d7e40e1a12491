import { describe, expect, it } from 'vitest';
import { StreamRegistry } from '../../src/server/stream-registry.js';

describe('StreamRegistry', () => {
  it('a stream that opens while the registry closes is closed too, after register returned (its closer may unregister)', async () => {
    const streams = new StreamRegistry();
    let releaseFirst: () => void = () => undefined;
    streams.register(() => new Promise<void>((resolve) => (releaseFirst = resolve)));
    const closing = streams.closeAll(5_000);
    const events: string[] = [];
    // As the services do: the closer calls the unregister function register() returns.
    const unregister: () => void = streams.register(async () => {
      events.push('closed');
      unregister();
    });
    events.push('registered');
    await Promise.resolve();
    await Promise.resolve();
    expect(events).toEqual(['registered', 'closed']);
    releaseFirst();
    await closing;
    expect(streams.openStreamCount).toBe(0);
  });
});
