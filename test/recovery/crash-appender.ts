/**
 * Child process for the crash test: appends batches to one partition forever, printing a line per
 * acknowledged append — `ack <baseOffset> <lastOffset> <label>` — until it is killed with SIGKILL.
 * Usage: node crash-appender.js <dataDir> <firstLabel> <concurrency>
 */
import { silentLogger } from '../../src/core/logger.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { LogManager } from '../../src/storage/log-manager.js';

const [dataDir, firstLabelText, concurrencyText] = process.argv.slice(2);
if (!dataDir || !firstLabelText || !concurrencyText) throw new Error('usage: crash-appender <dataDir> <firstLabel> <concurrency>');

const CRASH_TOPIC = 'crash';
const manager = await LogManager.open({ dataDir, logger: silentLogger });
if (!manager.listTopics().includes(CRASH_TOPIC)) {
  await manager.createTopic(CRASH_TOPIC, 1, { 'segment.bytes': String(64 * 1024), 'index.interval.bytes': '512' });
}
const log = manager.partition(CRASH_TOPIC, 0);
let nextLabel = Number(firstLabelText);
process.stdout.write('ready\n');

async function appender(): Promise<never> {
  for (;;) {
    const label = nextLabel++;
    const recordCount = 1 + (label % 7);
    const records = Array.from({ length: recordCount }, (_, i) => ({ key: `L${label}`, value: `${label}:${i}:${'x'.repeat(label % 50)}` }));
    const result = await log.append(encodeRecordBatch(records));
    process.stdout.write(`ack ${result.baseOffset} ${result.lastOffset} ${label}\n`);
  }
}

await Promise.all(Array.from({ length: Number(concurrencyText) }, () => appender()));
