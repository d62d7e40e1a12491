/**
 * Child process for the strace fault test: appends one batch at a time to a fresh topic and prints
 * `ack <offset>` per acknowledgement or `fail <code>` per rejected append, then exits after `count`.
 * Usage: node fsync-victim.js <dataDir> <count>
 */
import { StrataError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { LogManager } from '../../src/storage/log-manager.js';

const [dataDir, countText] = process.argv.slice(2);
if (!dataDir || !countText) throw new Error('usage: fsync-victim <dataDir> <count>');
const manager = await LogManager.open({ dataDir, logger: silentLogger });
await manager.createTopic('victim', 1);
const log = manager.partition('victim', 0);
for (let i = 0; i < Number(countText); i++) {
  try {
    const result = await log.append(encodeRecordBatch([{ value: `v${i}` }]));
    process.stdout.write(`ack ${result.baseOffset}\n`);
  } catch (error) {
    process.stdout.write(`fail ${error instanceof StrataError ? error.code : String(error)}\n`);
  }
}
process.exit(0);
