import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { OffsetOutOfRangeError, StorageFailedError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { decodeRecordBatch, encodeRecordBatch, type RecordInput } from '../../src/format/record-batch-codec.js';
import { readBatchSize } from '../../src/format/record-batch.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { resolveTopicConfig, type TopicConfig } from '../../src/storage/topic-config.js';
import { KillableFileSystem, type KillMode } from '../helpers/killable-file-system.js';
import { expectedSegmentsToDelete } from '../helpers/retention-oracle.js';
import { SeededRandom, seedsFromEnv } from '../helpers/seeded-random.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * Model-based fuzzing of PartitionLog: a seeded random sequence of appends (single, several at once,
 * several batches per append), reads at random offsets and sizes, clean restarts, simulated SIGKILLs
 * (between appends, in the middle of a group commit or a roll, during close, during recovery, with
 * torn writes) and retention, run against a real log in a temp dir and against a list of batches.
 * After every step the log must agree with the model; after every restart, in full (content, offsets,
 * sizes, segment files).
 *
 * Replay a failure with STRATA_SEED=<seed> (comma-separated for several); STRATA_MODEL_STEPS changes
 * the number of steps per seed; STRATA_MODEL_VERBOSE=1 prints what each seed exercised. A seed fixes
 * the sequence of operations and the kill points; only the racing readers' timing varies between runs.
 *
 * Crash model: a kill stops all further file operations of the dead process (see
 * KillableFileSystem) but keeps what it wrote, as the page cache does after SIGKILL; power loss (losing
 * unsynced writes) is not simulated here.
 */

const DEFAULT_SEEDS = [1, 2, 3, 4, 5, 6];
const STEPS = Number(process.env.STRATA_MODEL_STEPS ?? 220);
const START_MS = 1_700_000_000_000;

interface ModelRecord {
  key: string | null;
  value: string;
  timestampMs: number;
}

/** A batch the test built: its bytes and what it holds. */
interface PreparedBatch {
  sizeBytes: number;
  maxTimestampMs: number;
  records: ModelRecord[];
}

interface PreparedAppend {
  data: Buffer;
  batches: PreparedBatch[];
}

interface ModelBatch extends PreparedBatch {
  baseOffset: number;
  /** Which append call wrote it: a segment rolls between appends, never inside one. */
  appendNumber: number;
}

/** The whole truth about the partition: its batches in order, with the offsets they were given. */
class LogModel {
  /** The batches on disk, from the first segment's base offset: those below the log start too. */
  batches: ModelBatch[] = [];
  /** The first segment's base offset. */
  storedStartOffset = 0;
  /** Where the last purge (advanceLogStart) put the log start. */
  purgedBeforeOffset = 0;
  logEndOffset = 0;
  private appendCount = 0;

  get sizeBytes(): number {
    return this.batches.reduce((total, b) => total + b.sizeBytes, 0);
  }

  /** The first readable offset: a purge may put it inside a segment, or a batch. */
  get logStartOffset(): number {
    return Math.max(this.purgedBeforeOffset, this.storedStartOffset);
  }

  /** Assigns offsets as the log must: contiguous, in call order. Returns [baseOffset, lastOffset]. */
  commit(batches: readonly PreparedBatch[]): [number, number] {
    const baseOffset = this.logEndOffset;
    const appendNumber = this.appendCount++;
    for (const batch of batches) {
      this.batches.push({ ...batch, baseOffset: this.logEndOffset, appendNumber });
      this.logEndOffset += batch.records.length;
    }
    return [baseOffset, this.logEndOffset - 1];
  }

  indexOfBatchContaining(offset: number): number {
    return this.batches.findIndex((b) => b.baseOffset <= offset && offset < b.baseOffset + b.records.length);
  }

  dropBefore(offset: number): void {
    const kept = this.batches.filter((b) => b.baseOffset >= offset);
    expect(kept[0]?.baseOffset ?? this.logEndOffset, 'retention must cut at a batch boundary').toBe(offset);
    this.batches = kept;
    this.storedStartOffset = offset;
  }
}

/** Every batch in a read result, CRC-checked; the result must consist of whole batches only. */
function parseBatches(buffer: Buffer): Array<{ baseOffset: number; sizeBytes: number; records: Array<ModelRecord & { offset: number }> }> {
  const out = [];
  let position = 0;
  while (position < buffer.length) {
    const sizeBytes = readBatchSize(buffer, position);
    if (sizeBytes === undefined || position + sizeBytes > buffer.length) {
      expect.fail(`read returned a partial batch at byte ${position} of ${buffer.length} (size ${sizeBytes})`);
    }
    const { header, records } = decodeRecordBatch(buffer, position);
    out.push({
      baseOffset: header.baseOffset,
      sizeBytes: header.sizeBytes,
      records: records.map((r) => ({ offset: r.offset, key: r.key?.toString('utf8') ?? null, value: r.value?.toString('utf8') ?? '', timestampMs: r.timestampMs })),
    });
    position += header.sizeBytes;
  }
  return out;
}

function expectBatchMatches(actual: ReturnType<typeof parseBatches>[number], expected: ModelBatch, where: string): void {
  const isSame =
    actual.baseOffset === expected.baseOffset &&
    actual.sizeBytes === expected.sizeBytes &&
    actual.records.length === expected.records.length &&
    actual.records.every((r, i) => {
      const e = expected.records[i]!;
      return r.offset === expected.baseOffset + i && r.key === e.key && r.value === e.value && r.timestampMs === e.timestampMs;
    });
  if (isSame) return;
  expect(actual.baseOffset, `${where}: base offset`).toBe(expected.baseOffset);
  expect(actual.sizeBytes, `${where}: size of batch ${expected.baseOffset}`).toBe(expected.sizeBytes);
  expect(actual.records, `${where}: records of batch ${expected.baseOffset}`).toEqual(
    expected.records.map((r, i) => ({ ...r, offset: expected.baseOffset + i })),
  );
}

/** How many leading segments (never the last, the active one) end at or below `offset`, from their base offsets in order. */
function segmentsWhollyBelow(baseOffsets: readonly number[], offset: number): number {
  let count = 0;
  while (count < baseOffsets.length - 1 && baseOffsets[count + 1]! <= offset) count++;
  return count;
}

/** expect(actual).toBe(expected), but cheap when it holds: for checks in loops over every segment. */
function ensure<T>(actual: T, expected: T, message: string): void {
  if (!Object.is(actual, expected)) expect(actual, message).toBe(expected);
}

interface SegmentLayout {
  baseOffset: number;
  sizeBytes: number;
  maxTimestampMs: number;
}

class Simulation {
  private readonly rng: SeededRandom;
  private readonly clock = new ManualClock(START_MS);
  private readonly model = new LogModel();
  private readonly overrides: Record<string, string>;
  private readonly config: TopicConfig;
  private fs = new KillableFileSystem();
  private log: PartitionLog | undefined;
  private appendCount = 0;
  private readonly checkedIndexVersions = new Map<number, string>();
  readonly trace: string[] = [];
  readonly stats = { appends: 0, records: 0, reads: 0, restarts: 0, crashes: 0, tornOrMidCrashes: 0, lostUnacked: 0, retentionDeletes: 0, purges: 0, purgesInsideBatch: 0, crashesMidPurge: 0 };

  constructor(
    readonly seed: number,
    private readonly directory: string,
  ) {
    this.rng = new SeededRandom(seed);
    const rng = this.rng;
    this.overrides = {
      'segment.bytes': String(rng.int(1024, 4096)),
      'index.interval.bytes': String(rng.pick([0, 1, 64, 300, 1000, 4096])),
      'retention.ms': rng.pick(['-1', '-1', '40000', '120000']),
      'retention.bytes': rng.pick(['-1', '-1', '4000', '10000']),
      'segment.ms': rng.pick(['604800000', '604800000', '30000']),
    };
    this.config = resolveTopicConfig(this.overrides);
  }

  note(line: string): void {
    this.trace.push(line);
    if (this.trace.length > 25) this.trace.shift();
  }

  async run(steps: number): Promise<void> {
    this.note(`config ${JSON.stringify(this.overrides)}`);
    this.log = await this.open(false);
    await this.verifyFull('first open');
    for (let step = 0; step < steps; step++) {
      this.clock.advance(this.rng.int(0, 1500));
      const operation = this.rng.weighted({
        append: 30,
        concurrentAppends: 12,
        read: 30,
        restartClean: 4,
        crashIdle: 3,
        crashMidAppend: 6,
        crashDuringClose: 2,
        retention: 4,
        purge: 4,
        crashMidPurge: 2,
      });
      this.note(`#${step} ${operation}`);
      try {
        await this[operation]();
      } catch (error) {
        const message = [
          `model test failed: seed=${this.seed}, step ${step} of ${steps} (${operation}); replay with STRATA_SEED=${this.seed}`,
          'last steps:',
          ...this.trace.map((line) => `  ${line}`),
          '',
          (error as Error).message,
        ].join('\n');
        throw new Error(message, { cause: error });
      }
    }
    await this.verifyFull('end of run');
  }

  /** Closes the live log, if any; a killed one is already gone, like its process. */
  async dispose(): Promise<void> {
    if (this.log && !this.fs.killed) await this.log.close().catch(() => undefined);
    await this.fs.kill();
  }

  // ---- operations ----

  private async append(): Promise<void> {
    const prepared = this.prepareAppend();
    const result = await this.live.append(prepared.data);
    const [baseOffset, lastOffset] = this.model.commit(prepared.batches);
    expect(result).toEqual({ baseOffset, lastOffset, durability: 'durable' });
    this.expectOffsets();
  }

  private async concurrentAppends(): Promise<void> {
    const count = this.rng.int(2, 8);
    const visibleEnd = this.model.logEndOffset;
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < count; i++) {
      const prepared = this.prepareAppend();
      // Offsets follow call order: the model assigns them now.
      const [baseOffset, lastOffset] = this.model.commit(prepared.batches);
      calls.push(this.live.append(prepared.data).then((result) => expect(result).toEqual({ baseOffset, lastOffset, durability: 'durable' })));
      // Reads racing the writes see only what was visible before, or more, never a torn batch.
      if (visibleEnd > this.model.logStartOffset && this.rng.chance(0.4)) {
        calls.push(this.checkRead(this.rng.int(this.model.logStartOffset, visibleEnd - 1), this.randomMaxBytes(), { isRacingAppends: true }));
      }
    }
    // Sometimes a reader keeps reading while the group commits run: whatever it sees must be durable
    // (below the high watermark it was given) and exactly what the model holds. Its own random source
    // keeps the main sequence replayable whatever the timing.
    if (this.rng.chance(0.5)) {
      const racer = new SeededRandom(this.rng.int(0, 2 ** 31));
      let isSettled = false;
      const appends = Promise.allSettled(calls).then(() => void (isSettled = true));
      calls.push(
        (async () => {
          for (let i = 0; i < 100 && !isSettled; i++) {
            await new Promise((resolve) => setImmediate(resolve));
            const highWatermark = this.live.highWatermark;
            if (highWatermark <= this.model.logStartOffset) continue;
            await this.checkRead(racer.int(this.model.logStartOffset, highWatermark - 1), racer.pick([1, 5000, 1024 * 1024]), { isRacingAppends: true });
          }
          await appends;
        })(),
      );
    }
    await Promise.all(calls);
    this.expectOffsets();
  }

  private async read(): Promise<void> {
    const { logStartOffset, logEndOffset } = this.model;
    const kind = this.rng.weighted({ inside: 70, end: 8, batchEdge: 12, outside: 10 });
    let offset: number;
    if (kind === 'end' || logEndOffset === logStartOffset) offset = logEndOffset;
    else if (kind === 'inside') offset = this.rng.int(logStartOffset, logEndOffset - 1);
    else if (kind === 'batchEdge') {
      const batch = this.rng.pick(this.model.batches);
      offset = this.rng.chance(0.5) ? batch.baseOffset : batch.baseOffset + batch.records.length - 1;
      // The batch holding a purged start begins below it.
      if (offset < logStartOffset) {
        await expect(this.live.read(offset, 1000)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
        return;
      }
    } else {
      offset = logStartOffset > 0 && this.rng.chance(0.5) ? this.rng.int(0, logStartOffset - 1) : logEndOffset + this.rng.int(1, 5);
      this.note(`  read(${offset}) out of [${logStartOffset}, ${logEndOffset}]`);
      await expect(this.live.read(offset, 1000)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
      return;
    }
    await this.checkRead(offset, this.randomMaxBytes(), { isRacingAppends: false });
  }

  private async restartClean(): Promise<void> {
    await this.live.close();
    // A clean close may be followed by an open that does not know it was clean (a lost marker).
    const isCleanShutdown = this.rng.chance(0.85);
    this.note(`  reopen isCleanShutdown=${isCleanShutdown}`);
    this.log = await this.open(isCleanShutdown);
    await this.dropSegmentsBelowStart();
    this.stats.restarts++;
    await this.verifyFull('after a clean restart');
  }

  private async crashIdle(): Promise<void> {
    await this.fs.kill();
    await this.restartAfterCrash();
  }

  /** SIGKILL at a random file operation while several appends are in flight. */
  private async crashMidAppend(): Promise<void> {
    const mode = this.randomKillMode();
    const killAfter = this.rng.int(1, 16);
    const appends = Array.from({ length: this.rng.int(1, 6) }, () => this.prepareAppend());
    this.note(`  ${appends.length} appends, kill at op +${killAfter} (${mode.when})`);
    this.fs.killAt(killAfter, mode);
    const settled = await Promise.allSettled(appends.map((a) => this.live.append(a.data)));
    const wasMidAppend = this.fs.killed;
    if (wasMidAppend) this.stats.tornOrMidCrashes++;
    await this.fs.kill();

    // Acknowledgements form a prefix of the calls; every later append failed with a typed error.
    const ackedCount = settled.findIndex((s) => s.status === 'rejected');
    const acked = ackedCount === -1 ? settled.length : ackedCount;
    for (const s of settled.slice(acked)) {
      expect(s.status, 'an append after a failed one was acknowledged').toBe('rejected');
      expect((s as PromiseRejectedResult).reason).toBeInstanceOf(StorageFailedError);
    }
    let expectedBase = this.model.logEndOffset;
    for (let i = 0; i < acked; i++) {
      const recordCount = appends[i]!.batches.reduce((n, b) => n + b.records.length, 0);
      expect((settled[i] as PromiseFulfilledResult<unknown>).value).toEqual({ baseOffset: expectedBase, lastOffset: expectedBase + recordCount - 1, durability: 'durable' });
      expectedBase += recordCount;
    }

    await this.reopenAfterCrash();
    // What survived: everything acknowledged, then possibly some of the unacknowledged batches (they
    // reached the page cache), in call order, whole: never a gap, a duplicate or a torn batch.
    const inFlight = appends.flatMap((a) => a.batches);
    const ackedBatches = appends.slice(0, acked).reduce((n, a) => n + a.batches.length, 0);
    let survivors = 0;
    let end = this.model.logEndOffset;
    while (end < this.live.logEndOffset && survivors < inFlight.length) end += inFlight[survivors++]!.records.length;
    expect(end, `the log end ${this.live.logEndOffset} falls inside an in-flight batch, or beyond all of them`).toBe(this.live.logEndOffset);
    expect(survivors, 'an acknowledged batch was lost in the crash').toBeGreaterThanOrEqual(ackedBatches);
    this.stats.lostUnacked += inFlight.length - survivors;
    this.note(`  acked ${acked}/${appends.length} appends; ${survivors}/${inFlight.length} batches survived`);
    // One commit per append, so the layout check knows where each append's batches begin.
    let remaining = survivors;
    for (const append of appends) {
      if (remaining === 0) break;
      const kept = append.batches.slice(0, remaining);
      this.model.commit(kept);
      remaining -= kept.length;
    }
    await this.dropSegmentsBelowStart();
    await this.verifyFull('after a crash during appends');
  }

  private async crashDuringClose(): Promise<void> {
    const killAfter = this.rng.int(1, 8);
    this.note(`  kill at op +${killAfter} of close`);
    this.fs.killAt(killAfter, this.randomKillMode());
    await this.live.close().catch(() => undefined);
    await this.fs.kill();
    await this.restartAfterCrash();
  }

  private async retention(): Promise<void> {
    this.clock.advance(this.rng.int(0, 30_000));
    const nowMs = this.clock.nowMs();
    const layout = await this.checkLayout();
    // Besides retention's own: segments wholly below a purged start (the active one it lay in, rolled since).
    const belowStart = segmentsWhollyBelow(layout.map((s) => s.baseOffset), this.model.logStartOffset);
    const expectedCount = Math.max(expectedSegmentsToDelete(layout, this.config, nowMs), belowStart);
    const result = await this.live.applyRetention(nowMs);
    const expectedBytes = layout.slice(0, expectedCount).reduce((n, s) => n + s.sizeBytes, 0);
    expect(result, `retention at ${nowMs} over ${JSON.stringify(layout)}`).toMatchObject({ deletedSegments: expectedCount, deletedBytes: expectedBytes });
    if (expectedCount === 0) return;
    this.stats.retentionDeletes += expectedCount;
    const newStoredStart = layout[expectedCount]!.baseOffset;
    this.model.dropBefore(newStoredStart);
    this.note(`  retention deleted ${expectedCount} segments (${belowStart} below the start); log start ${this.model.logStartOffset}`);
    expect(this.live.logStartOffset).toBe(this.model.logStartOffset);
    await expect(this.live.read(this.model.logStartOffset - 1, 100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    await this.checkLayout();
  }

  /**
   * Kafka's DeleteRecords: the log start moves to a random offset (inside a batch, at a batch edge, at
   * the end), the segments wholly below it go; an offset at or below the start changes nothing, and
   * one past the end is refused.
   */
  private async purge(): Promise<void> {
    const { logStartOffset, logEndOffset } = this.model;
    const kind = this.rng.weighted({ forward: 6, end: 2, backwards: 1, past: 1 });
    if (kind === 'past') {
      const offset = logEndOffset + this.rng.int(1, 5);
      this.note(`  advanceLogStart(${offset}) past the end`);
      await expect(this.live.advanceLogStart(offset)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    } else if (kind === 'backwards' || logEndOffset === logStartOffset) {
      const offset = this.rng.int(0, logStartOffset);
      this.note(`  advanceLogStart(${offset}) at or below the start ${logStartOffset}`);
      expect(await this.live.advanceLogStart(offset)).toEqual({ previousLogStartOffset: logStartOffset, logStartOffset });
    } else {
      const offset = kind === 'end' ? logEndOffset : this.rng.int(logStartOffset + 1, logEndOffset);
      const layout = await this.checkLayout();
      const deleted = segmentsWhollyBelow(layout.map((l) => l.baseOffset), offset);
      this.note(`  advanceLogStart(${offset}) from ${logStartOffset}: ${deleted} segments wholly below`);
      expect(await this.live.advanceLogStart(offset)).toEqual({ previousLogStartOffset: logStartOffset, logStartOffset: offset });
      this.stats.purges++;
      if (!this.model.batches.some((b) => b.baseOffset === offset) && offset < logEndOffset) this.stats.purgesInsideBatch++;
      this.model.purgedBeforeOffset = offset;
      this.model.dropBefore(layout[deleted]!.baseOffset);
      await expect(this.live.read(offset - 1, 100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
      await this.checkLayout();
    }
    this.expectOffsets();
  }

  /**
   * SIGKILL at a random file operation of a purge: after the restart the start is the old one or the
   * new one, never anything else, and the new one if the purge answered. No segment below it survives.
   */
  private async crashMidPurge(): Promise<void> {
    const { logStartOffset, logEndOffset } = this.model;
    if (logEndOffset === logStartOffset) return this.crashIdle();
    const offset = this.rng.int(logStartOffset + 1, logEndOffset);
    const killAfter = this.rng.int(1, 6);
    this.note(`  advanceLogStart(${offset}) from ${logStartOffset}, kill at op +${killAfter}`);
    this.fs.killAt(killAfter, this.randomKillMode());
    const outcome = await this.live.advanceLogStart(offset).then(
      () => 'answered' as const,
      () => 'failed' as const,
    );
    if (this.fs.killed) this.stats.crashesMidPurge++;
    await this.fs.kill();
    await this.reopenAfterCrash();
    const start = this.live.logStartOffset;
    this.note(`  purge ${outcome}; start after the restart ${start}`);
    if (outcome === 'answered') expect(start, 'an answered purge was undone by a crash').toBe(offset);
    else expect([logStartOffset, offset], 'the start after a crash mid-purge').toContain(start);
    this.model.purgedBeforeOffset = Math.max(this.model.purgedBeforeOffset, start);
    await this.dropSegmentsBelowStart();
    await this.verifyFull('after a crash during a purge');
  }

  // ---- restarts ----

  private open(isCleanShutdown: boolean): Promise<PartitionLog> {
    return PartitionLog.open({
      fs: this.fs,
      directory: this.directory,
      topic: 'model',
      partition: 0,
      config: this.config,
      clock: this.clock,
      logger: silentLogger,
      isCleanShutdown,
    });
  }

  private async restartAfterCrash(): Promise<void> {
    await this.reopenAfterCrash();
    await this.dropSegmentsBelowStart();
    await this.verifyFull('after a crash');
  }

  /**
   * What an open deletes besides recovery: the closed segments wholly below the purged start (the
   * active segment a purge lay in, rolled since; or a purge killed before its deletes). The model
   * follows from the batches' offsets alone: a segment is wholly below when the next one starts at or
   * below the start, and the open must leave none such.
   */
  private async dropSegmentsBelowStart(): Promise<void> {
    const bases = (await readdir(this.directory)).filter((n) => /^\d{20}\.log$/.test(n)).map((n) => Number(n.slice(0, 20))).sort((a, b) => a - b);
    expect(segmentsWhollyBelow(bases, this.model.logStartOffset), 'a segment wholly below the start survived the open').toBe(0);
    const firstStored = bases[0]!;
    if (firstStored > this.model.storedStartOffset) this.model.dropBefore(firstStored);
  }

  /** A new process: a fresh file system, and sometimes a second kill in the middle of recovery. */
  private async reopenAfterCrash(): Promise<void> {
    this.stats.crashes++;
    // The dead process's log: its file system refuses everything, so close() only settles its state.
    await this.log?.close().catch(() => undefined);
    this.log = undefined;
    for (let attempt = 0; ; attempt++) {
      this.fs = new KillableFileSystem();
      const isKilledInRecovery = attempt < 2 && this.rng.chance(0.3);
      if (isKilledInRecovery) {
        const killAfter = this.rng.int(1, 25);
        this.note(`  recovery attempt ${attempt}: kill at op +${killAfter}`);
        this.fs.killAt(killAfter, this.randomKillMode());
      }
      try {
        const log = await this.open(false);
        if (!this.fs.killed) {
          this.fs.disarm();
          this.log = log;
          return;
        }
        await log.close().catch(() => undefined);
      } catch (error) {
        if (!this.fs.killed) throw error;
      }
      await this.fs.kill();
    }
  }

  // ---- checks ----

  private get live(): PartitionLog {
    if (!this.log) expect.fail('no live log');
    return this.log;
  }

  private expectOffsets(): void {
    expect(this.live.logStartOffset, 'logStartOffset').toBe(this.model.logStartOffset);
    expect(this.live.logEndOffset, 'logEndOffset').toBe(this.model.logEndOffset);
    expect(this.live.highWatermark, 'highWatermark').toBe(this.model.logEndOffset);
  }

  /** A read must return whole batches, starting with the one that holds `offset`, exactly as modelled. */
  private async checkRead(offset: number, maxBytes: number, options: { isRacingAppends: boolean }): Promise<void> {
    this.stats.reads++;
    const result = await this.live.read(offset, maxBytes);
    const where = `read(${offset}, ${maxBytes})`;
    expect(result.logStartOffset, `${where}: logStartOffset`).toBe(this.model.logStartOffset);
    if (!options.isRacingAppends) expect(result.highWatermark, `${where}: highWatermark`).toBe(this.model.logEndOffset);
    if (offset >= result.highWatermark) {
      expect(result.batches.length, `${where}: at the high watermark`).toBe(0);
      expect(result.nextOffset).toBe(offset);
      return;
    }
    const batches = parseBatches(result.batches);
    expect(batches.length, `${where}: at least one batch`).toBeGreaterThan(0);
    const first = this.model.indexOfBatchContaining(offset);
    expect(first, `${where}: offset in the model`).toBeGreaterThanOrEqual(0);
    batches.forEach((batch, i) => {
      const expected = this.model.batches[first + i];
      expect(expected, `${where}: batch ${i} beyond the model's end`).toBeDefined();
      expectBatchMatches(batch, expected!, where);
    });
    const last = this.model.batches[first + batches.length - 1]!;
    expect(result.nextOffset, `${where}: nextOffset`).toBe(last.baseOffset + last.records.length);
    expect(result.nextOffset, `${where}: beyond the high watermark`).toBeLessThanOrEqual(result.highWatermark);
    if (batches.length > 1) expect(result.batches.length, `${where}: more than maxBytes`).toBeLessThanOrEqual(maxBytes);
  }

  /** Offsets, sizes, segment files and every record, after a restart or at the end. */
  private async verifyFull(when: string): Promise<void> {
    this.expectOffsets();
    expect(this.live.sizeBytes, `${when}: sizeBytes`).toBe(this.model.sizeBytes);
    await this.checkLayout();
    // Read everything back, following nextOffset with random read sizes.
    let offset = this.model.logStartOffset;
    // The first batch read is the one that holds the start (a purge may put it inside a batch).
    let batchIndex = offset < this.model.logEndOffset ? this.model.indexOfBatchContaining(offset) : this.model.batches.length;
    while (offset < this.model.logEndOffset) {
      const result = await this.live.read(offset, this.randomMaxBytes());
      const batches = parseBatches(result.batches);
      expect(batches.length, `${when}: no progress at ${offset}`).toBeGreaterThan(0);
      for (const batch of batches) expectBatchMatches(batch, this.model.batches[batchIndex++]!, `${when}: full read`);
      offset = result.nextOffset;
    }
    expect(batchIndex, `${when}: batches read`).toBe(this.model.batches.length);
    expect((await this.live.read(this.model.logEndOffset, 1000)).batches.length).toBe(0);
  }

  /**
   * The segment files must partition the model's batches: each .log starts at a batch boundary, holds
   * exactly the bytes of its batches, stays within segment.bytes unless it holds a single append, and
   * every closed segment has both index files. Returns each segment's size and largest timestamp.
   */
  private async checkLayout(): Promise<SegmentLayout[]> {
    const names = (await readdir(this.directory)).sort();
    expect(names.filter((n) => n.includes('.tmp-')), 'temporary files left').toEqual([]);
    const nameSet = new Set(names);
    const baseOffsets = names.filter((n) => /^\d{20}\.log$/.test(n)).map((n) => Number(n.slice(0, 20)));
    const baseOffsetSet = new Set(baseOffsets);
    for (const n of names.filter((n) => /^\d{20}\.(index|timeindex)$/.test(n))) {
      ensure(baseOffsetSet.has(Number(n.slice(0, 20))), true, `orphan index file ${n}`);
    }
    expect(baseOffsets.length, 'segment files vs segmentCount').toBe(this.live.segmentCount);
    expect(baseOffsets[0], 'first segment vs the model').toBe(this.model.storedStartOffset);
    const layout: SegmentLayout[] = [];
    let next = 0; // index of the first model batch not yet assigned to a segment
    for (let i = 0; i < baseOffsets.length; i++) {
      const baseOffset = baseOffsets[i]!;
      const isActive = i === baseOffsets.length - 1;
      const nextBase = baseOffsets[i + 1] ?? Number.POSITIVE_INFINITY;
      const first = next;
      while (next < this.model.batches.length && this.model.batches[next]!.baseOffset < nextBase) next++;
      const batches = this.model.batches.slice(first, next);
      const segmentName = `segment ${baseOffset}`;
      if (batches.length === 0) {
        ensure(isActive, true, `${segmentName}: an empty closed segment`);
        ensure(baseOffset, this.model.logEndOffset, `${segmentName}: empty active segment starts at the log end`);
      } else {
        ensure(batches[0]!.baseOffset, baseOffset, `${segmentName}: starts inside a batch`);
        const last = batches.at(-1)!;
        if (!isActive) ensure(last.baseOffset + last.records.length, nextBase, `${segmentName}: gap before the next segment`);
      }
      let sizeBytes = 0;
      let maxTimestampMs = -1;
      for (const b of batches) {
        sizeBytes += b.sizeBytes;
        maxTimestampMs = Math.max(maxTimestampMs, b.maxTimestampMs);
      }
      const base = join(this.directory, String(baseOffset).padStart(20, '0'));
      ensure((await stat(`${base}.log`)).size, sizeBytes, `${segmentName}: file size`);
      const appendNumbers = new Set(batches.map((b) => b.appendNumber));
      if (appendNumbers.size > 1) ensure(sizeBytes <= this.config.segmentBytes, true, `${segmentName}: ${sizeBytes} bytes, over segment.bytes`);
      if (!isActive) {
        const fileName = base.slice(this.directory.length + 1);
        ensure(nameSet.has(`${fileName}.index`), true, `${segmentName}: offset index missing`);
        ensure(nameSet.has(`${fileName}.timeindex`), true, `${segmentName}: time index missing`);
        await this.checkIndexFiles(baseOffset, batches);
      }
      layout.push({ baseOffset, sizeBytes, maxTimestampMs });
    }
    ensure(next, this.model.batches.length, 'model batches beyond the last segment');
    return layout;
  }

  /**
   * A closed segment's index files, against the rules their comments state. Offset index: one entry
   * for the first batch after at least index.interval.bytes since the previous entry, byte for byte
   * the same whether built by appends, resumed after a clean open, or rebuilt by recovery. Time index:
   * strictly increasing; each entry (T, O) names the last offset O of a batch and the exact largest
   * timestamp T up to it; the last entry is the segment's largest timestamp (sealed at roll).
   */
  private async checkIndexFiles(baseOffset: number, batches: readonly ModelBatch[]): Promise<void> {
    const base = join(this.directory, String(baseOffset).padStart(20, '0'));
    const where = `segment ${baseOffset}`;
    // Index files change only when written whole (at a roll, a clean close or by recovery): check each
    // version once.
    const [offsetStat, timeStat] = await Promise.all([stat(`${base}.index`), stat(`${base}.timeindex`)]);
    const version = `${offsetStat.ino}:${offsetStat.mtimeMs}:${offsetStat.size}/${timeStat.ino}:${timeStat.mtimeMs}:${timeStat.size}/${batches.length}`;
    if (this.checkedIndexVersions.get(baseOffset) === version) return;
    const expectedOffsetIndex: Buffer[] = [];
    let position = 0;
    let bytesSinceEntry = 0;
    for (const batch of batches) {
      if (position > 0 && bytesSinceEntry >= this.config.indexIntervalBytes) {
        const entry = Buffer.alloc(8);
        entry.writeUInt32BE(batch.baseOffset - baseOffset, 0);
        entry.writeUInt32BE(position, 4);
        expectedOffsetIndex.push(entry);
        bytesSinceEntry = 0;
      }
      bytesSinceEntry += batch.sizeBytes;
      position += batch.sizeBytes;
    }
    const offsetIndex = await readFile(`${base}.index`);
    expect(offsetIndex.toString('hex'), `${where}: offset index file`).toBe(Buffer.concat(expectedOffsetIndex).toString('hex'));

    const timeIndex = await readFile(`${base}.timeindex`);
    expect(timeIndex.length % 12, `${where}: time index size`).toBe(0);
    expect(timeIndex.length, `${where}: time index is empty`).toBeGreaterThan(0);
    let previous = { timestampMs: Number.NEGATIVE_INFINITY, offset: -1 };
    for (let at = 0; at < timeIndex.length; at += 12) {
      const entry = { timestampMs: Number(timeIndex.readBigInt64BE(at)), offset: baseOffset + timeIndex.readUInt32BE(at + 8) };
      expect(entry.timestampMs, `${where}: time index timestamps increase`).toBeGreaterThan(previous.timestampMs);
      expect(entry.offset, `${where}: time index offsets increase`).toBeGreaterThan(previous.offset);
      const upTo = batches.filter((b) => b.baseOffset + b.records.length - 1 <= entry.offset);
      const lastUpTo = upTo.at(-1);
      expect(lastUpTo && lastUpTo.baseOffset + lastUpTo.records.length - 1, `${where}: time entry ${entry.offset} is not a batch's last offset`).toBe(entry.offset);
      expect(entry.timestampMs, `${where}: time entry at ${entry.offset}`).toBe(Math.max(...upTo.map((b) => b.maxTimestampMs)));
      previous = entry;
    }
    const segmentMaxMs = Math.max(...batches.map((b) => b.maxTimestampMs));
    const maxBatch = batches.find((b) => b.maxTimestampMs === segmentMaxMs)!;
    expect(previous, `${where}: last time index entry`).toEqual({ timestampMs: segmentMaxMs, offset: maxBatch.baseOffset + maxBatch.records.length - 1 });
    this.checkedIndexVersions.set(baseOffset, version);
  }

  // ---- inputs ----

  private prepareAppend(): PreparedAppend {
    const appendNumber = this.appendCount++;
    const batchCount = this.rng.chance(0.8) ? 1 : this.rng.int(2, 3);
    const batches: PreparedBatch[] = [];
    const buffers: Buffer[] = [];
    for (let b = 0; b < batchCount; b++) {
      const records: ModelRecord[] = [];
      const recordCount = this.rng.int(1, 5);
      for (let r = 0; r < recordCount; r++) {
        const padding = this.rng.chance(0.05) ? this.rng.int(1000, 5000) : this.rng.int(0, 300);
        const nowMs = this.clock.nowMs();
        const timestampMs = this.rng.chance(0.9) ? nowMs - this.rng.int(0, 5000) : this.rng.chance(0.5) ? nowMs + this.rng.int(1, 2000) : nowMs - this.rng.int(0, 10 * 86_400_000);
        records.push({
          key: this.rng.chance(0.2) ? null : `k${this.rng.int(0, 9)}`,
          value: `s${this.seed}-a${appendNumber}-b${b}-r${r}`.padEnd(padding, '~'),
          timestampMs,
        });
      }
      const inputs: RecordInput[] = records.map((r) => ({ key: r.key, value: r.value, timestampMs: r.timestampMs }));
      const data = encodeRecordBatch(inputs);
      buffers.push(data);
      batches.push({ sizeBytes: data.length, maxTimestampMs: Math.max(...records.map((r) => r.timestampMs)), records });
    }
    this.stats.appends++;
    this.stats.records += batches.reduce((n, b) => n + b.records.length, 0);
    return { data: Buffer.concat(buffers), batches };
  }

  private randomMaxBytes(): number {
    return this.rng.pick([1, this.rng.int(1, 200), this.rng.int(100, 3000), this.rng.int(1000, 10_000), 64 * 1024, 1024 * 1024]);
  }

  private randomKillMode(): KillMode {
    const when = this.rng.weighted({ before: 4, after: 3, torn: 3 });
    if (when !== 'torn') return { when };
    const fraction = this.rng.next();
    return { when, keepBytes: (total) => Math.floor(total * fraction) };
  }
}

describe('PartitionLog against a model (seeded)', () => {
  const seeds = seedsFromEnv(DEFAULT_SEEDS);

  it.each(seeds)('seed %i: appends, reads, restarts, crashes and retention agree with the model', async (seed) => {
    const dir = await makeTempDir(`strata-model-${seed}-`);
    const simulation = new Simulation(seed, dir.path);
    try {
      await simulation.run(STEPS);
    } finally {
      await simulation.dispose();
      await dir.remove();
    }
    const { stats } = simulation;
    // The run must have exercised what it claims to, or a passing seed proves little.
    expect(stats.records, `seed ${seed}: ${JSON.stringify(stats)}`).toBeGreaterThan(200);
    expect(stats.restarts + stats.crashes, `seed ${seed}: ${JSON.stringify(stats)}`).toBeGreaterThan(5);
    if (process.env.STRATA_MODEL_VERBOSE) console.log(`seed ${seed}`, stats);
  });
});

describe('PartitionLog visibility under flush: always (forced interleavings)', () => {
  /** Holds back the next fdatasync of a .log file until released; resolves `reached` when it is hit. */
  function holdNextLogSync(fs: KillableFileSystem): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    let onReached!: () => void;
    const reached = new Promise<void>((resolve) => (onReached = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    fs.beforeOperation = async (what) => {
      if (!what.startsWith('datasync ') || !what.endsWith('.log')) return;
      fs.beforeOperation = undefined;
      onReached();
      await gate;
    };
    return { reached, release };
  }

  const batch = (label: string, valueBytes: number) => encodeRecordBatch([{ key: null, value: label.padEnd(valueBytes, '~'), timestampMs: START_MS }]);

  it.each([
    { name: 'in the same segment', valueBytes: 10 },
    { name: 'in a segment the append rolled to', valueBytes: 700 },
  ])('a written but not yet fsynced batch is invisible to readers ($name)', async ({ valueBytes }) => {
    const dir = await makeTempDir('strata-visibility-');
    const fs = new KillableFileSystem();
    const log = await PartitionLog.open({
      fs,
      directory: dir.path,
      topic: 'v',
      partition: 0,
      config: resolveTopicConfig({ 'segment.bytes': '1024' }),
      clock: new ManualClock(START_MS),
      logger: silentLogger,
      isCleanShutdown: false,
    });
    let release = (): void => undefined;
    try {
      await log.append(batch('first', valueBytes));
      const held = holdNextLogSync(fs);
      release = held.release;
      const { reached } = held;
      const pending = log.append(batch('second', valueBytes));
      await reached;
      // The second batch is in the file (written) but its fsync has not returned.
      expect(log.logEndOffset).toBe(2);
      expect(log.highWatermark).toBe(1);
      const before = await log.read(0, 1024 * 1024);
      expect(parseBatches(before.batches).map((b) => b.baseOffset)).toEqual([0]);
      expect(before).toMatchObject({ nextOffset: 1, highWatermark: 1 });
      expect((await log.read(1, 1024 * 1024)).batches.length).toBe(0);
      release();
      expect(await pending).toMatchObject({ baseOffset: 1, durability: 'durable' });
      expect(log.highWatermark).toBe(2);
      const after = await log.read(0, 1024 * 1024);
      const records = [...parseBatches(after.batches), ...parseBatches((await log.read(after.nextOffset, 1024 * 1024)).batches)].flatMap((b) => b.records);
      expect(records.map((r) => r.value.replace(/~+$/, ''))).toEqual(['first', 'second']);
    } finally {
      // Never leave the held fsync behind, or close would wait for it forever.
      fs.beforeOperation = undefined;
      release();
      await log.close();
      await dir.remove();
    }
  });
});
