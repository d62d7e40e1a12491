import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StdoutLines } from '../../src/cli/stdout-lines.js';

describe('StdoutLines', () => {
  it('waits for drain when the reader is slow, and stops at EPIPE instead of throwing', async () => {
    const chunks: string[] = [];
    let release: (() => void) | undefined;
    // A reader that takes one chunk at a time, when the test says.
    const stream = new Writable({
      highWaterMark: 8,
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString());
        release = done;
      },
    });
    const out = new StdoutLines(stream);
    let written = false;
    const first = out.write('a line longer than the high-water mark').then((ok) => (written = ok));
    await new Promise((r) => setImmediate(r));
    expect(written).toBe(false); // still waiting for 'drain'
    release!();
    expect(await first).toBe(true);
    stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(out.closed.aborted).toBe(true);
    expect(await out.write('after')).toBe(false);
    expect(chunks).toEqual(['a line longer than the high-water mark\n']);
    out.dispose();
  });
});
