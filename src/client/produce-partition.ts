import { MAX_PRODUCER_EPOCH } from '../core/limits.js';
import type { Buffer } from 'node:buffer';
import { assert } from '../core/assert.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { restampProducerState } from '../format/record-batch-codec.js';
import { copyError, OutcomeUnknownError, StrataClientError } from './client-error.js';
import type { BatchSinks } from './send-sinks.js';

/** The largest base or last sequence a batch can carry (int32). */
export const MAX_SEQUENCE = 0x7fff_ffff;
/** The base sequence of a batch sealed while its partition waits for a new generation (Kafka's NO_SEQUENCE). */
export const NO_SEQUENCE = -1;

/**
 * A sealed batch: encoded once, then only its bytes are kept (not the records); resent unchanged, or
 * restamped in place (producer id and epoch, base sequence, CRC) when its partition's sequence is renumbered.
 */
export interface SealedBatch {
  topic: string;
  partition: number;
  recordCount: number;
  /** Who waits for each record. */
  sinks: BatchSinks;
  sizeBytes: number;
  /** Its base sequence, or NO_SEQUENCE until the partition's next generation numbers it (it is never sent so). */
  sequence: number;
  /** The producer id and epoch its bytes carry: a generation of the partition's sequence. */
  producerId: number;
  epoch: number;
  /** Its place among the partition's batches (seal order): retries go back in this order. */
  order: number;
  encoded: Buffer;
  /** Its delivery deadline, on the client clock's monotonic time (a wall clock step moves it not). */
  deadlineMs: number;
  /** Times sent; a batch sent before (a retry) always travels alone, so the server can recognise it. */
  attempts: number;
  /** Its last attempt died with the stream, unanswered: it may be in the log. */
  isOutcomeUnknown: boolean;
}

/** Who a partition's batches are written as: the server keeps one sequence per producer id and epoch. */
export interface ProducerGeneration {
  producerId: number;
  epoch: number;
}

/**
 * Why a partition stopped sending, mildest first; a failure during a recovery can only raise it.
 * - first-batch: the partition has no generation yet; its batches wait for one (no backoff).
 * - sequence-exhausted: the next batch would pass the int32 sequence; those numbered go out, the
 *   rest wait for the next generation (no backoff).
 * - retriable-failure: failed batches are resent unchanged after a backoff, in sequence order; the
 *   server appends them in order or recognises ones it already has.
 * - unknown-producer: the server forgot the producer (a restart): after the backoff, everything
 *   waiting is renumbered under a new generation, batches that went unanswered included (the only
 *   way on, at the risk of a second copy).
 * - batch-refused: a batch failed for good (or ran out of delivery time) while the server still knows
 *   the producer: the rest are renumbered so they do not wait forever for its sequence, and those
 *   whose request went unanswered (maybe in the log) fail instead of being written twice.
 * - outcome-unknown: as batch-refused, and the failed batch itself went unanswered, so later batches
 *   may be in the log too.
 */
export type RecoveryReason = 'first-batch' | 'sequence-exhausted' | 'retriable-failure' | 'unknown-producer' | 'batch-refused' | 'outcome-unknown';
const SEVERITY: Record<RecoveryReason, number> = { 'first-batch': 0, 'sequence-exhausted': 1, 'retriable-failure': 2, 'unknown-producer': 3, 'batch-refused': 4, 'outcome-unknown': 5 };

/** The reasons that start the partition's sequence over under a new generation. */
export type GenerationReason = Exclude<RecoveryReason, 'retriable-failure'>;

export interface GenerationRequest {
  topic: string;
  partition: number;
  /** The generation being replaced; undefined for the partition's first batch. */
  current: ProducerGeneration | undefined;
  reason: GenerationReason;
}

/**
 * The one step that gives a partition a new generation (its sequence then starts at 0). Called only
 * while none of the partition's batches is in flight, so a newer epoch cannot fence its own batches.
 * May answer at once or later (a server round trip); a rejection is retried after a backoff, and a
 * non-retriable one (`retriable` false on the error) fails the batches waiting for it. The answer is
 * a newer epoch of the current producer id, or another id: reusing a generation would make the
 * server take new batches for old ones, so anything else fails an assertion (an implementation that
 * asks a server checks the server's answer first, and rejects with a typed error).
 */
export type NewGeneration = (request: GenerationRequest) => ProducerGeneration | Promise<ProducerGeneration>;

/**
 * Generations made up by the client: `producerId` from epoch 0, then the next epoch; once the int16
 * epochs are used up, a fresh id from `newProducerId` from epoch 0 (as Kafka's idempotent producer
 * takes a new id when its epoch is exhausted). The server takes either as a producer starting at 0.
 */
export function localGenerations(producerId: number, newProducerId: () => number): NewGeneration {
  return ({ current }) => {
    if (!current) return { producerId, epoch: 0 };
    if (current.epoch >= MAX_PRODUCER_EPOCH) return { producerId: newProducerId(), epoch: 0 };
    return { producerId: current.producerId, epoch: current.epoch + 1 };
  };
}

/** Where a partition stands; every transition asserts where it comes from. */
export type PartitionPhase =
  | { kind: 'sending' }
  /** Stopped: waiting for the answers of its batches in flight. */
  | { kind: 'draining'; reason: RecoveryReason; error: StrataClientError | undefined }
  /** Stopped, nothing in flight: resumes when the timer fires (or on the next microtask, for no delay). */
  | { kind: 'backing-off'; reason: RecoveryReason; error: StrataClientError | undefined; timer: TimerHandle | undefined }
  /** Nothing in flight: waiting for newGeneration(). */
  | { kind: 'renumbering'; reason: GenerationReason };

/** What a partition needs of its pipeline. */
export interface PartitionHost {
  readonly clock: Clock;
  readonly retryBackoffMs: number;
  readonly maxRetryBackoffMs: number;
  readonly newGeneration: NewGeneration;
  /** The producer gave up on the server (the batches waiting fail with this), or undefined. */
  givenUpError(): StrataClientError | undefined;
  /** Fails a batch that leaves the pipeline. */
  reject(batch: SealedBatch, error: Error): void;
  /** Sends what the partition has queued (it is sending again). */
  pump(partition: ProducePartition): void;
}

/**
 * One partition of a produce pipeline: its batches (queued, in flight, waiting to be retried), its
 * generation and next sequence, and where it stands in recovery. The pipeline sends; this decides
 * when, and what is resent, renumbered or failed.
 *
 * sending -> draining (a failure; waits for every in-flight answer) -> backing-off -> sending, or
 * -> renumbering -> sending. A partition without a generation, or whose next batch would pass the
 * int32 sequence, goes sending -> (draining) -> renumbering without a backoff.
 *
 * Invariants: nothing is sent unless sending; every batch in flight has the partition's current
 * generation; a new generation is asked for only with nothing in flight; batches without a sequence
 * (NO_SEQUENCE) form the queue's tail and are numbered only by the next generation.
 */
export class ProducePartition {
  generation: ProducerGeneration | undefined;
  /** The next batch's base sequence; undefined: batches sealed now wait for the next generation. */
  nextSequence: number | undefined;
  queue: SealedBatch[] = [];
  readonly inFlight = new Set<SealedBatch>();
  requestsInFlight = 0;
  /** Failed batches to resend (unchanged or renumbered) once the partition resumes. */
  retry: SealedBatch[] = [];
  /** Batches sealed so far (the next batch's `order`). */
  sealedCount = 0;
  /** Failures since the last acknowledgement: the backoff doubles with each. */
  private failures = 0;
  private current: PartitionPhase = { kind: 'sending' };
  private isClosed = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly host: PartitionHost,
  ) {}

  get phase(): Readonly<PartitionPhase> {
    return this.current;
  }

  get isSending(): boolean {
    return this.current.kind === 'sending';
  }

  /** The base sequence for a batch of `recordCount` being sealed, or NO_SEQUENCE when it must wait for a new generation. */
  takeSequence(recordCount: number): number {
    // Sequences are int32 in the batch format: past 2^31 - 1 records of one partition, the producer
    // goes on under a new generation from 0 (the server takes a newer epoch from sequence 0).
    if (this.nextSequence !== undefined && this.nextSequence + recordCount - 1 > MAX_SEQUENCE) this.nextSequence = undefined;
    if (this.nextSequence === undefined) return NO_SEQUENCE;
    const sequence = this.nextSequence;
    this.nextSequence += recordCount;
    return sequence;
  }

  /** The head of the queue has no sequence: the partition needs a new generation before it sends more. */
  needGeneration(): void {
    assert(this.current.kind === 'sending', `a partition needs a generation only while sending, not ${this.current.kind}`);
    assert(this.queue[0]?.sequence === NO_SEQUENCE, 'a partition needs a generation only for an unnumbered batch');
    this.stop(this.generation === undefined ? 'first-batch' : 'sequence-exhausted', undefined);
  }

  /**
   * Stops sending for `reason`, or raises the reason of a recovery under way. While renumbering it
   * changes nothing: the new generation starts the sequence over whatever stopped it.
   */
  stop(reason: RecoveryReason, error: StrataClientError | undefined): void {
    const phase = this.current;
    if (phase.kind === 'renumbering') {
      assert(this.inFlight.size === 0, 'nothing is in flight while renumbering');
      return;
    }
    if (phase.kind === 'sending') {
      this.current = { kind: 'draining', reason, error };
    } else if (SEVERITY[reason] > SEVERITY[phase.reason]) {
      phase.reason = reason;
      phase.error = error;
    }
    if (this.current.kind === 'draining' && this.inFlight.size === 0) this.drained();
  }

  /** An answer came (and its batches left inFlight): resumes a drained partition, or sends more. */
  afterAnswer(): void {
    if (this.current.kind === 'draining' && this.inFlight.size === 0) this.drained();
    else if (this.current.kind === 'sending') this.host.pump(this);
  }

  /** An acknowledgement: the backoff starts again from its first step. */
  acknowledged(): void {
    this.failures = 0;
  }

  /** Cancels a pending backoff; an answer from newGeneration() after this is ignored. */
  close(): void {
    this.isClosed = true;
    if (this.current.kind === 'backing-off') this.current.timer?.cancel();
  }

  private drained(): void {
    const phase = this.current;
    assert(phase.kind === 'draining' && this.inFlight.size === 0, `a partition is drained only from draining with nothing in flight (${phase.kind}, ${this.inFlight.size} in flight)`);
    if (phase.reason === 'first-batch' || phase.reason === 'sequence-exhausted') return this.renumber(phase.reason);
    this.failures++;
    // Nothing to resend, only a sequence to start over: no reason to wait.
    const delayMs = phase.reason !== 'retriable-failure' && this.retry.length === 0 ? 0 : this.backoffMs();
    this.backOff(phase.reason, phase.error, delayMs);
  }

  private backoffMs(): number {
    return Math.min(this.host.maxRetryBackoffMs, this.host.retryBackoffMs * 2 ** (this.failures - 1));
  }

  private backOff(reason: RecoveryReason, error: StrataClientError | undefined, delayMs: number): void {
    const phase: PartitionPhase = { kind: 'backing-off', reason, error, timer: undefined };
    this.current = phase;
    const resume = () => {
      if (this.current === phase && !this.isClosed) this.resume();
    };
    // No delay is no timer: a microtask keeps the resume after the failure being handled, and a
    // manual clock does not have to be advanced for it.
    if (delayMs === 0) queueMicrotask(resume);
    else phase.timer = this.host.clock.setTimeout(resume, delayMs, { keepsProcessAlive: true });
  }

  private resume(): void {
    const phase = this.current;
    assert(phase.kind === 'backing-off' && this.inFlight.size === 0, `a partition resumes only from backing-off with nothing in flight (${phase.kind}, ${this.inFlight.size} in flight)`);
    // Seal order, not sequence: a new generation's batches start again from sequence 0.
    this.queue = [...this.retry.sort((a, b) => a.order - b.order), ...this.queue];
    this.retry = [];
    if (phase.reason === 'batch-refused' || phase.reason === 'outcome-unknown') {
      // Renumbered, these could be written twice: they fail instead, saying they may be in the log.
      const why = phase.reason === 'outcome-unknown' ? 'an earlier batch of this partition failed with its outcome unknown' : "this partition's sequence starts over after a failed batch";
      for (const batch of this.queue.filter((b) => b.isOutcomeUnknown)) {
        this.host.reject(batch, mayBeWritten(new OutcomeUnknownError(`${why}, and this batch went unanswered`)));
      }
      this.queue = this.queue.filter((b) => !b.isOutcomeUnknown);
    }
    if (phase.reason === 'retriable-failure') {
      this.current = { kind: 'sending' };
      this.host.pump(this);
    } else {
      this.renumber(phase.reason);
    }
  }

  private renumber(reason: GenerationReason): void {
    assert(this.current.kind !== 'sending' && this.current.kind !== 'renumbering', `a partition renumbers only after it stopped (${this.current.kind})`);
    assert(this.inFlight.size === 0 && this.retry.length === 0, 'a new generation is asked for only with nothing in flight or set aside');
    this.current = { kind: 'renumbering', reason };
    // Batches sealed from now on are numbered by the new generation.
    this.nextSequence = undefined;
    let answer: ProducerGeneration | Promise<ProducerGeneration>;
    try {
      answer = this.host.newGeneration({ topic: this.topic, partition: this.partition, current: this.generation, reason });
    } catch (error) {
      return this.generationFailed(reason, error);
    }
    if (answer instanceof Promise) {
      answer.then(
        (generation) => this.renumbered(reason, generation),
        (error: unknown) => this.generationFailed(reason, error),
      );
    } else {
      this.renumbered(reason, answer);
    }
  }

  private renumbered(reason: GenerationReason, generation: ProducerGeneration): void {
    if (this.isClosed) return;
    const phase = this.current;
    assert(phase.kind === 'renumbering' && phase.reason === reason && this.inFlight.size === 0, `a new generation arrives only while renumbering with nothing in flight (${phase.kind})`);
    const { producerId, epoch } = generation;
    assert(Number.isSafeInteger(producerId) && producerId >= 0 && Number.isInteger(epoch) && epoch >= 0 && epoch <= MAX_PRODUCER_EPOCH, `a generation is a producer id >= 0 and an int16 epoch >= 0, got ${producerId}/${epoch}`);
    const previous = this.generation;
    assert(!previous || producerId !== previous.producerId || epoch > previous.epoch, `a new generation of producer ${producerId} has a newer epoch than ${previous?.epoch}, got ${epoch}`);
    this.generation = { producerId, epoch };
    let nextSequence = 0;
    for (const batch of this.queue) {
      batch.sequence = nextSequence;
      batch.producerId = producerId;
      batch.epoch = epoch;
      nextSequence += batch.recordCount;
      // Not in flight (the partition waited for every answer), so patching in place is safe.
      restampProducerState(batch.encoded, producerId, epoch, batch.sequence);
    }
    assert(nextSequence - 1 <= MAX_SEQUENCE, 'the batches waiting fit in one generation');
    this.nextSequence = nextSequence;
    this.current = { kind: 'sending' };
    this.host.pump(this);
  }

  /**
   * newGeneration() failed: a non-retriable error (or a producer that gave up on the server) fails
   * every batch waiting; a retriable one fails those past their delivery time. It is asked again
   * after a backoff.
   */
  private generationFailed(reason: GenerationReason, cause: unknown): void {
    if (this.isClosed) return;
    const phase = this.current;
    assert(phase.kind === 'renumbering' && phase.reason === reason, `a new generation fails only while renumbering (${phase.kind})`);
    const error = StrataClientError.fromServiceError(cause);
    const givenUp = error.retriable ? this.host.givenUpError() : undefined;
    const tickMs = this.host.clock.monotonicMs();
    const failed = this.queue.filter((b) => !error.retriable || givenUp !== undefined || tickMs >= b.deadlineMs);
    this.queue = this.queue.filter((b) => !failed.includes(b));
    for (const batch of failed) this.host.reject(batch, batch.isOutcomeUnknown ? mayBeWritten(givenUp ?? error) : (givenUp ?? error));
    this.failures++;
    // Nothing waits for a generation any more: it is asked for again when a batch is sealed (without a
    // sequence, it stops the partition as a first batch does), not on a timer that would run, and
    // hold the process, while nothing needs it (a fenced or given-up producer seals nothing more).
    if (this.queue.length === 0) {
      this.current = { kind: 'sending' };
      return;
    }
    this.backOff(reason, error, this.backoffMs());
  }
}

/** The error for a batch that failed after its request went unanswered: it may be in the log. */
export function mayBeWritten(error: StrataClientError): StrataClientError {
  return copyError(error, { message: `${error.message} (the batch was sent and not answered: it may have been written)`, retriable: false });
}
