import { PRODUCER_IDS_TOPIC } from '../core/internal-topics.js';
import { DataLossError, InvalidArgumentError, ProducerFencedError, TooManyProducersError } from '../core/errors.js';
import { MAX_NAMED_PRODUCERS, MAX_PRODUCER_EPOCH, MAX_PRODUCER_NAME_LENGTH, MAX_REMEMBERED_UNNAMED_EPOCHS, PRODUCER_ID_BLOCK_SIZE } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import { StateLog, type StateLogEntry } from '../storage/state-log.js';
import type { StateLogPort } from '../storage/state-log-port.js';
import { jsonObjectOf } from '../storage/json-record.js';

export { PRODUCER_IDS_TOPIC };
const PRODUCER_IDS_SEGMENT_BYTES = 1024 * 1024;
/** An epoch no batch carries: a retired id's fence refuses all of them. */
const RETIRED_FENCE_EPOCH = MAX_PRODUCER_EPOCH + 1;

export interface ProducerIdentity {
  producerId: number;
  producerEpoch: number;
}

export interface InitProducerRequest {
  /** Like Kafka's transactional.id: the same id each time, under a newer epoch that fences the older instance. */
  name?: string;
  /** The caller's current id and epoch, to be given the next epoch. */
  current?: ProducerIdentity;
}

/** The durable state of one named producer id: its latest epoch, and the oldest epoch still accepted. */
interface NamedProducer {
  name: string;
  producerId: number;
  epoch: number;
  /** Batches of this id with an older epoch are fenced; RETIRED_FENCE_EPOCH (all) once a newer instance retired the id. */
  fenceEpoch: number;
  /**
   * The epoch `epoch` was bumped from, when a bump (not an init by name) made it: a bump asked again
   * from it (its answer was lost: a timeout, a crash after the record) gets `epoch` again.
   */
  bumpedFrom?: number;
}

/**
 * A record of `__producer_ids`, JSON in the value:
 *   { "type": "block", "endId" }            ids below endId are handed out (or skipped): never again
 *   { "type": "producer", "name", "producerId", "epoch", "fenceEpoch" }   a named id's latest state
 * Replay applies them in log order; the latest record per producer id wins. The topic is a state
 * log (storage/state-log.ts: one partition, durable appends, replay, snapshot compaction); a
 * record's key is its producer's name (none for a block record alone).
 */
type ProducerIdRecord = { type: 'block'; endId: number } | ({ type: 'producer' } & NamedProducer);

/**
 * Hands out producer ids and epochs (Kafka's InitProducerId) and fences older instances of named
 * producers. Ids are never reused, across restarts too: they are taken from blocks of
 * PRODUCER_ID_BLOCK_SIZE, each recorded durably in `__producer_ids` before any of its ids is handed
 * out, and a restart skips what was left of the last block. A named producer's (id, epoch, fence) is
 * recorded at each init and bump, and the state is rebuilt at startup by replaying the topic with
 * the same `apply` the live path uses.
 *
 * - No name: a fresh id, epoch 0.
 * - A name: the name's id under its latest epoch + 1, which also becomes its fence: batches of that id
 *   with an older epoch are refused (PRODUCER_FENCED) on every partition, also ones the newer
 *   instance never wrote to. The first init of a name gets a fresh id.
 * - A current (id, epoch): the next epoch, if `epoch` is the latest issued for the id, else
 *   PRODUCER_FENCED. A bump does not move the fence: the epoch it replaces belongs to the same
 *   instance, whose other partitions may still have batches of it in flight (the client renumbers one
 *   partition at a time, as Kafka's idempotent producer bumps its epoch without fencing). An unnamed
 *   id's latest epoch is remembered only in memory (bounded, least recently used forgotten): nobody
 *   else holds an unnamed id, so there is nobody to fence, and after a restart a bump from any epoch
 *   of an issued id is granted.
 *   Only a name's current id is bumped (else PRODUCER_FENCED). A bump asked again because its answer
 *   was lost gets the same answer: from the epoch the latest was bumped from (bumpedFrom), or from
 *   the last epoch of an id the name moved away from and no new instance retired (the name's id).
 * - Past epoch 32767 (int16), a fresh id at epoch 0. A named producer's name moves to the new id; its
 *   old id stays unfenced (the same instance's other partitions may still write it, and adopt the new
 *   id when they renumber) until the next instance by name retires it (fenced at every epoch). So a
 *   PRODUCER_FENCED answer always means a newer instance took over, never the producer's own bump.
 *
 * Concurrency: inits run one at a time (each a read-modify-write of the state and, when something
 * must be recorded, one durable append); `checkNotFenced` is synchronous, one map lookup, and sees a
 * new fence once its record is durable and before the init is answered.
 */
export class ProducerIdRegistry {
  /** Named producers' ids (current, previous and retired): the only ids with a fence. */
  private readonly named = new Map<number, NamedProducer>();
  /** Each name's current id. */
  private readonly byName = new Map<string, NamedProducer>();
  /** Ids a name moved away from when its epochs ran out, not yet retired. */
  private readonly previousIds = new Map<string, Set<number>>();
  /** Unnamed ids' latest epochs, least recently used first. */
  private readonly unnamedEpochs = new Map<number, number>();
  /** Ids below this are allocated; nextId up to it may be handed out. */
  private endId = 0;
  private nextId = 0;
  private chain: Promise<unknown> = Promise.resolve();
  /**
   * Damage in `__producer_ids` (found at startup): the ids handed out are unknown, so no more are
   * handed out (InitProducer fails with this DATA_LOSS) instead of maybe reusing one; fences read
   * before the damage still hold, and everything else the server does goes on.
   */
  private damage: DataLossError | undefined;

  private constructor(
    private readonly log: StateLog<ProducerIdRecord>,
    private readonly blockSize: number,
    private readonly maxNamedProducers: number,
    private readonly logger: Logger,
  ) {}

  /**
   * Opens (creating `__producer_ids` if missing) and replays the registry; call before serving produce.
   * `segmentBytes` applies when the topic is created (tests use small segments to see compaction).
   */
  static async open(logs: StateLogPort, logger: Logger, options: { blockSize?: number; segmentBytes?: number; maxNamedProducers?: number; nowMs?: () => number } = {}): Promise<ProducerIdRegistry> {
    const log = await StateLog.open<ProducerIdRecord>(logs, {
      topic: PRODUCER_IDS_TOPIC,
      partitionCount: 1,
      segmentBytes: options.segmentBytes ?? PRODUCER_IDS_SEGMENT_BYTES,
      // Only this registry writes the topic (clients may not; damage fails the read with DATA_LOSS):
      // a record it cannot read was written by something else (a user topic of this name, before it
      // was internal), and holds no ids.
      parse: parseRecord,
      nowMs: options.nowMs ?? Date.now,
      logger,
      damageMeaning: 'the producer ids handed out are unknown; InitProducer fails until an operator acts',
    });
    const registry = new ProducerIdRegistry(log, options.blockSize ?? PRODUCER_ID_BLOCK_SIZE, options.maxNamedProducers ?? MAX_NAMED_PRODUCERS, logger);
    const { replayed, damagedPartitions } = await log.replay((record) => registry.apply(record));
    registry.damage = damagedPartitions.get(0);
    log.setSnapshotSource(() => registry.snapshot());
    // What was left of the last block may have been handed out before a crash: skip it.
    registry.nextId = registry.endId;
    logger.info({ replayed, endId: registry.endId, namedProducers: registry.byName.size }, 'producer ids rebuilt from __producer_ids');
    return registry;
  }

  /** Resolves once no write of the registry runs (a compaction after an init's record included). */
  idle(): Promise<void> {
    return this.log.idle();
  }

  /** Waits for the writes under way (a compaction too); later inits are refused. */
  close(): Promise<void> {
    return this.log.close();
  }

  /**
   * Throws ProducerFencedError when a newer instance of the batch's named producer took over. Producer
   * id -1 (no idempotence) and unnamed ids are never fenced. On every produce: one map lookup.
   */
  checkNotFenced(producerId: number, producerEpoch: number): void {
    const named = this.named.get(producerId);
    if (named === undefined || producerEpoch >= named.fenceEpoch) return;
    throw new ProducerFencedError(
      named.fenceEpoch === RETIRED_FENCE_EPOCH
        ? `producer ${producerId} ('${named.name}') used up its epochs and the name moved to a new id`
        : `producer ${producerId} ('${named.name}') epoch ${producerEpoch} is fenced: a newer instance took over at epoch ${named.fenceEpoch}`,
    );
  }

  /** See the class comment. Inits run one at a time. */
  initProducer(request: InitProducerRequest): Promise<ProducerIdentity> {
    try {
      checkRequest(request);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.damage) return Promise.reject(this.damage);
    const result = this.chain.then(() => this.init(request));
    this.chain = result.catch(() => undefined);
    return result;
  }

  private async init({ name, current }: InitProducerRequest): Promise<ProducerIdentity> {
    if (current !== undefined) return this.bump(current, name);
    if (name === undefined) return { producerId: await this.freshId([]), producerEpoch: 0 };
    const known = this.byName.get(name);
    if (known === undefined && this.byName.size >= this.maxNamedProducers) {
      throw new TooManyProducersError(`the server holds ${this.maxNamedProducers} producer names: no new one is taken`);
    }
    // A new instance: every older id of the name is fenced at every epoch (written before the name's
    // current record, so replay finds the current one last).
    const retire: ProducerIdRecord[] = [...(this.previousIds.get(name) ?? [])].map((id) => ({ type: 'producer', ...this.named.get(id)!, fenceEpoch: RETIRED_FENCE_EPOCH }));
    if (known === undefined || known.epoch >= MAX_PRODUCER_EPOCH) {
      if (known) retire.push({ type: 'producer', ...known, fenceEpoch: RETIRED_FENCE_EPOCH });
      return this.nameToFreshId(name, retire);
    }
    const epoch = known.epoch + 1;
    await this.record([...retire, { type: 'producer', name, producerId: known.producerId, epoch, fenceEpoch: epoch }]);
    return { producerId: known.producerId, producerEpoch: epoch };
  }

  private async bump(current: ProducerIdentity, name: string | undefined): Promise<ProducerIdentity> {
    const { producerId, producerEpoch } = current;
    const known = this.named.get(producerId);
    if (known !== undefined) {
      if (name !== undefined && name !== known.name) throw new InvalidArgumentError(`producer id ${producerId} is not the id of producer '${name}'`);
      // A retry of the bump that made the latest epoch (its answer was lost): the same answer. Refused,
      // the instance would take PRODUCER_FENCED for its own bump and stop for good. An init by name
      // since (a newer instance) leaves no bumpedFrom, so the older instance's retry is still fenced.
      if (known.bumpedFrom === producerEpoch && known.fenceEpoch !== RETIRED_FENCE_EPOCH && this.byName.get(known.name) === known) {
        return { producerId, producerEpoch: known.epoch };
      }
      // The move to a fresh id past the last epoch, asked again (its answer was lost): an id the name
      // moved away from and no new instance retired is still this instance's, so it gets the name's id.
      const current = this.byName.get(known.name);
      if (current && current !== known && this.previousIds.get(known.name)?.has(producerId) && producerEpoch === known.epoch) {
        return { producerId: current.producerId, producerEpoch: current.epoch };
      }
      // Only the name's current id moves on (an older one of the same instance adopts the current).
      if (known.fenceEpoch === RETIRED_FENCE_EPOCH || this.byName.get(known.name) !== known || producerEpoch !== known.epoch) {
        throw new ProducerFencedError(`producer ${producerId} ('${known.name}') epoch ${producerEpoch} is not the latest issued: a newer instance took over`);
      }
      // The same instance used up the epochs: the name moves to a fresh id, and the old one stays
      // unfenced (this instance's other partitions may still write it) until a new instance comes.
      if (known.epoch >= MAX_PRODUCER_EPOCH) return this.nameToFreshId(known.name, []);
      const epoch = known.epoch + 1;
      await this.record([{ type: 'producer', name: known.name, producerId, epoch, fenceEpoch: known.fenceEpoch, bumpedFrom: producerEpoch }]);
      return { producerId, producerEpoch: epoch };
    }
    if (name !== undefined) throw new InvalidArgumentError(`producer id ${producerId} is not the id of producer '${name}'`);
    // Below nextId: handed out (after a restart nextId is the block end, so every id that may have been).
    if (producerId >= this.nextId) throw new InvalidArgumentError(`producer id ${producerId} was never issued by this server (ids are below ${this.nextId})`);
    const latest = this.unnamedEpochs.get(producerId);
    // An unnamed id's epochs past 0 come only from its holder's bumps, each from the one before: a
    // bump from latest - 1 is that bump asked again (its answer was lost), and gets the same answer.
    if (latest !== undefined && latest > 0 && producerEpoch === latest - 1) return { producerId, producerEpoch: latest };
    if (latest !== undefined && latest !== producerEpoch) {
      throw new ProducerFencedError(`producer ${producerId} epoch ${producerEpoch} is not the latest issued (${latest})`);
    }
    this.unnamedEpochs.delete(producerId);
    if (producerEpoch >= MAX_PRODUCER_EPOCH) return { producerId: await this.freshId([]), producerEpoch: 0 };
    this.rememberUnnamed(producerId, producerEpoch + 1);
    return { producerId, producerEpoch: producerEpoch + 1 };
  }

  /** The name takes a fresh id at epoch 0; the `retire` records are written in the same append. */
  private async nameToFreshId(name: string, retire: ProducerIdRecord[]): Promise<ProducerIdentity> {
    const producerId = await this.freshId(retire, (id) => [{ type: 'producer', name, producerId: id, epoch: 0, fenceEpoch: 0 }]);
    return { producerId, producerEpoch: 0 };
  }

  /**
   * The next unused id; `before` and `after(id)` are recorded in the same durable append as the block
   * allocation the id may need (one fsync).
   */
  private async freshId(before: ProducerIdRecord[], after: (id: number) => ProducerIdRecord[] = () => []): Promise<number> {
    const id = this.nextId;
    const block: ProducerIdRecord[] = id >= this.endId ? [{ type: 'block', endId: this.endId + this.blockSize }] : [];
    const records = [...block, ...before, ...after(id)];
    if (records.length > 0) await this.record(records);
    this.nextId = id + 1;
    this.rememberUnnamed(id, 0);
    return id;
  }

  private rememberUnnamed(producerId: number, epoch: number): void {
    if (this.named.has(producerId)) return;
    this.unnamedEpochs.delete(producerId);
    if (this.unnamedEpochs.size >= MAX_REMEMBERED_UNNAMED_EPOCHS) this.unnamedEpochs.delete(this.unnamedEpochs.keys().next().value as number);
    this.unnamedEpochs.set(producerId, epoch);
  }

  /**
   * Durable first (one batch, fsynced, so a crash keeps all of the records or none), then applied: a
   * fence is in force before its init is answered. The state log compacts the topic after a write
   * when it is due (see snapshot); a failed compaction is logged and never fails the init, whose
   * caller would otherwise retry and take one more epoch.
   */
  private async record(records: readonly ProducerIdRecord[]): Promise<void> {
    const named = records.find((r) => r.type === 'producer');
    await this.log.appendTo(0, named?.type === 'producer' ? named.name : null, records);
    for (const record of records) this.apply(record);
  }

  private apply(record: ProducerIdRecord): void {
    if (record.type === 'block') {
      this.endId = Math.max(this.endId, record.endId);
      return;
    }
    const { name, producerId, epoch, fenceEpoch, bumpedFrom } = record;
    const entry: NamedProducer = { name, producerId, epoch, fenceEpoch, ...(bumpedFrom !== undefined ? { bumpedFrom } : {}) };
    this.named.set(producerId, entry);
    this.unnamedEpochs.delete(producerId);
    let previous = this.previousIds.get(name);
    if (fenceEpoch === RETIRED_FENCE_EPOCH) {
      previous?.delete(producerId);
      if (this.byName.get(name)?.producerId === producerId) this.byName.delete(name);
    } else {
      // The latest unretired record of a name is its current id; an id it moved away from stays
      // unfenced (the same instance may still write it) until a new instance retires it.
      const moved = this.byName.get(name);
      if (moved && moved.producerId !== producerId) {
        if (!previous) this.previousIds.set(name, (previous = new Set()));
        previous.add(moved.producerId);
      }
      previous?.delete(producerId);
      this.byName.set(name, entry);
    }
    if (previous?.size === 0) this.previousIds.delete(name);
  }

  /**
   * The live state for compaction: the block end, then each name's ids, its current one last. A
   * name's records are one entry, which the state log keeps in one batch (written whole or not at
   * all): replay of a snapshot that a crash cut after any batch finds each name's current record after
   * its others, never an older id of it last.
   */
  private snapshot(): Array<StateLogEntry<ProducerIdRecord>> {
    const idsByName = new Map<string, ProducerIdRecord[]>();
    for (const n of this.named.values()) {
      let ids = idsByName.get(n.name);
      if (!ids) idsByName.set(n.name, (ids = []));
      if (this.byName.get(n.name) === n) ids.push({ type: 'producer', ...n });
      else ids.unshift({ type: 'producer', ...n });
    }
    return [{ key: null, values: [{ type: 'block', endId: this.endId }] }, ...[...idsByName].map(([key, values]) => ({ key, values }))];
  }
}

function checkRequest({ name, current }: InitProducerRequest): void {
  if (name !== undefined && (name.length === 0 || name.length > MAX_PRODUCER_NAME_LENGTH)) {
    throw new InvalidArgumentError(`a producer name has 1 to ${MAX_PRODUCER_NAME_LENGTH} characters, not ${name.length}`);
  }
  if (current === undefined) return;
  if (!Number.isSafeInteger(current.producerId) || current.producerId < 0) throw new InvalidArgumentError(`producer_id must be a non-negative integer, got ${current.producerId}`);
  if (!Number.isInteger(current.producerEpoch) || current.producerEpoch < 0 || current.producerEpoch > MAX_PRODUCER_EPOCH) {
    throw new InvalidArgumentError(`producer_epoch must be an integer in 0..${MAX_PRODUCER_EPOCH}, got ${current.producerEpoch}`);
  }
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** The record, or why it is not one this registry writes. */
function parseRecord(text: string): ProducerIdRecord | string {
  const r = jsonObjectOf(text);
  if (typeof r === 'string') return r;
  if (r.type === 'block') return isCount(r.endId) ? { type: 'block', endId: r.endId } : 'a block record without endId';
  if (r.type === 'producer' && typeof r.name === 'string' && isCount(r.producerId) && isCount(r.epoch) && isCount(r.fenceEpoch)) {
    return { type: 'producer', name: r.name, producerId: r.producerId, epoch: r.epoch, fenceEpoch: r.fenceEpoch, ...(isCount(r.bumpedFrom) ? { bumpedFrom: r.bumpedFrom } : {}) };
  }
  return `unknown record type ${String(r.type)}`;
}
