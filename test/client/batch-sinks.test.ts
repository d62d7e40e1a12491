import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RecordMetadata, RecordSink } from '../../src/client/produce-pipeline.js';
import { BatchSinks } from '../../src/client/send-sinks.js';

/** A sink that writes down what it hears. */
function recordingSink(name: string, heard: string[]): RecordSink {
  return {
    onAcknowledged: (index: number, metadata: RecordMetadata) => heard.push(`${name}#${index}@${metadata.offset}/${metadata.partition}/${metadata.durability}`),
    onFailed: (error: Error) => heard.push(`${name}!${error.message}`),
  };
}

describe('BatchSinks', () => {
  it('acknowledges every record with its own call index and offset, in batch order, whatever the mix of calls', () => {
    // Each step: which of 4 calls the batch's next record belongs to, and how far that call's index jumps
    // (a sendBatch() spreads its records over partitions, so a batch sees some of its indexes).
    const steps = fc.array(fc.record({ call: fc.integer({ min: 0, max: 3 }), skip: fc.integer({ min: 0, max: 2 }) }), { minLength: 1, maxLength: 300 });
    fc.assert(
      fc.property(steps, fc.integer({ min: -1, max: 1_000_000 }), (plan, baseOffset) => {
        const heard: string[] = [];
        const sinks = [0, 1, 2, 3].map((call) => recordingSink(`c${call}`, heard));
        const nextIndex = [0, 0, 0, 0];
        const batch = new BatchSinks();
        const expected: string[] = [];
        plan.forEach(({ call, skip }, position) => {
          const index = nextIndex[call]! + skip;
          nextIndex[call] = index + 1;
          batch.add(sinks[call]!, index);
          expected.push(`c${call}#${index}@${baseOffset < 0 ? -1 : baseOffset + position}/3/written`);
        });
        batch.acknowledge('t', 3, baseOffset, 'written');
        expect(heard).toEqual(expected);
      }),
    );
  });

  it('keeps one run for consecutive records of one call, and tells every call of a failure', () => {
    const heard: string[] = [];
    const many = recordingSink('many', heard);
    const single = recordingSink('single', heard);
    const batch = new BatchSinks();
    for (let index = 0; index < 1000; index++) batch.add(many, index);
    batch.add(single, 0);
    batch.add(many, 1000);
    const runs = (batch as unknown as { sinks: RecordSink[] }).sinks;
    expect(runs).toEqual([many, single, many]);
    batch.fail(new Error('gone'));
    expect(heard).toEqual(['many!gone', 'single!gone', 'many!gone']);
  });
});
