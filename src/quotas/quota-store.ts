import { InvalidArgumentError } from '../core/errors.js';
import { QUOTAS_TOPIC } from '../core/internal-topics.js';
import type { Logger } from '../core/logger.js';
import { StateLog, type StateLogEntry } from '../storage/state-log.js';
import type { StateLogPort } from '../storage/state-log-port.js';
import { DEFAULT_QUOTA_ENTITY, QUOTA_KEYS, type QuotaKey, type QuotaSource, type QuotaValues, type ResolvedQuotas, resolveQuotas, validateQuotaValues } from './principal-quotas.js';
import { jsonObjectOf } from '../storage/json-record.js';

const QUOTAS_SEGMENT_BYTES = 1024 * 1024;
/** The most entities (principals and `*`) with an entry: each costs memory, and a cached resolution per principal. */
export const MAX_QUOTA_ENTITIES = 10_000;
/** Resolved quotas cached per principal at most; past it the cache starts over (a principal's resolution is a few map lookups). */
export const MAX_CACHED_PRINCIPALS = 10_000;
/** An entity is a principal name (as ACL rules name them) or `*`. */
const MAX_ENTITY_CHARS = 1_024;

/**
 * A record of `__quotas` (one partition, JSON in the value, the entity as the record key): the
 * entity's whole entry after a change, so the last record of an entity is its state:
 *   { "type": "set",    "entity", "values": QuotaValues, "by": principal, "atMs" }
 *   { "type": "remove", "entity", "by": principal, "atMs" }       (the entity has no entry any more)
 */
type QuotaRecord = { type: 'set'; entity: string; values: QuotaValues; by: string; atMs: number } | { type: 'remove'; entity: string; by: string; atMs: number };

/** One entity's entry. */
export interface QuotaEntry {
  entity: string;
  values: QuotaValues;
}

/** What a set or remove did, or would do (a dry run): the entry before and after. */
export interface QuotaChange {
  /** False when the entry stays as it was: nothing was (or would be) written. */
  isChanged: boolean;
  entity: string;
  previous: QuotaValues;
  values: QuotaValues;
}

/** Where a resolved value comes from: the principal's own entry, the `*` entry, the server config, or nowhere (unlimited). */
export type QuotaLevel = 'principal' | 'default' | 'config' | 'unlimited';

export interface ResolvedQuota {
  key: QuotaKey;
  /** Null: unlimited. */
  value: number | null;
  level: QuotaLevel;
}

export interface QuotaStoreOptions {
  nowMs: () => number;
  logger: Logger;
  /** The server config's `quotas`: the last level of resolution (validated already). */
  defaults: QuotaValues;
  segmentBytes?: number;
  /** MAX_QUOTA_ENTITIES unless a test sets fewer. */
  maxEntities?: number;
}

/**
 * The server's quota entries (as Kafka's client quotas: per principal and the default entity `*`),
 * in memory for every call's lookup, made durable in `__quotas` (through the shared state log:
 * flush=always, one fsync per write) before a change is answered, and rebuilt from it at startup.
 * When the topic's one partition has enough segments, the state log writes a snapshot (every live
 * entry) and cuts the segments below it.
 *
 * As the QuotaSource of the server's enforcers, it resolves a principal's quotas (its entry, `*`,
 * the config defaults: principal-quotas.ts), caches the result per principal, and clears the cache
 * and tells its listeners after every change.
 *
 * A damaged `__quotas` (replay could not read it to its end): the entries are unknown, and the
 * server falls back to the config defaults alone (logged as DATA LOSS at startup). Quotas protect
 * the server, but an entry read half-way must not lock principals out (a count read as 1) or let
 * them loose silently; changes are refused with DATA_LOSS until an operator repairs the topic,
 * as the ACL store does.
 *
 * Changes run one at a time (a chain), so a dry run's answer and the write agree with what is there.
 */
export class QuotaStore implements QuotaSource {
  private readonly entries = new Map<string, QuotaValues>();
  private readonly cache = new Map<string, ResolvedQuotas>();
  private readonly listeners: Array<() => void> = [];
  private chain: Promise<unknown> = Promise.resolve();
  private static readonly NO_ENTRIES: ReadonlyMap<string, QuotaValues> = new Map();

  private constructor(
    private readonly log: StateLog<QuotaRecord>,
    private readonly options: QuotaStoreOptions,
  ) {}

  static async open(logs: StateLogPort, options: QuotaStoreOptions): Promise<QuotaStore> {
    const log = await StateLog.open<QuotaRecord>(logs, {
      topic: QUOTAS_TOPIC,
      partitionCount: 1,
      segmentBytes: options.segmentBytes ?? QUOTAS_SEGMENT_BYTES,
      parse: parseQuotaRecord,
      nowMs: options.nowMs,
      logger: options.logger,
      damageMeaning: 'the quota entries are unknown: every principal gets the server config defaults until an operator acts, and quota changes are refused',
    });
    const store = new QuotaStore(log, { ...options, defaults: validateQuotaValues(options.defaults) });
    const { replayed } = await log.replay((record) => store.apply(record));
    log.setSnapshotSource(() => store.snapshot());
    options.logger.info({ entities: store.entries.size, replayed, isDamaged: log.damageOf(0) !== undefined }, 'quotas rebuilt from __quotas');
    return store;
  }

  quotasFor(principal: string): ResolvedQuotas {
    let resolved = this.cache.get(principal);
    if (resolved === undefined) {
      resolved = resolveQuotas(principal, this.liveEntries(), this.options.defaults);
      if (this.cache.size >= MAX_CACHED_PRINCIPALS) this.cache.clear();
      this.cache.set(principal, resolved);
    }
    return resolved;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** What applies to the principal, key by key, and which level each value comes from. */
  resolve(principal: string): ResolvedQuota[] {
    const entries = this.liveEntries();
    const own = entries.get(principal);
    const fallback = entries.get(DEFAULT_QUOTA_ENTITY);
    const defaults = this.options.defaults;
    return QUOTA_KEYS.map((key): ResolvedQuota => {
      if (own?.[key] !== undefined) return { key, value: own[key]!, level: principal === DEFAULT_QUOTA_ENTITY ? 'default' : 'principal' };
      if (fallback?.[key] !== undefined) return { key, value: fallback[key]!, level: 'default' };
      if (defaults[key] !== undefined) return { key, value: defaults[key]!, level: 'config' };
      return { key, value: null, level: 'unlimited' };
    });
  }

  /** The entries, by entity name (`*` sorts first); one entity's, or none, when named. A damaged log holds none. */
  list(entity?: string): QuotaEntry[] {
    const entries = this.liveEntries();
    const names = entity === undefined ? [...entries.keys()].sort() : entries.has(entity) ? [entity] : [];
    return names.map((name) => ({ entity: name, values: { ...entries.get(name)! } }));
  }

  /** Sets the keys given in the entity's entry (the others stay). */
  set(entity: string, values: Record<string, unknown>, by: string, options: { isDryRun: boolean }): Promise<QuotaChange> {
    checkEntity(entity);
    const valid = validateQuotaValues(values);
    if (Object.keys(valid).length === 0) throw new InvalidArgumentError(`name at least one quota to set (${QUOTA_KEYS.join(', ')})`);
    return this.change(entity, by, options, (previous) => ({ ...previous, ...valid }));
  }

  /** Removes the keys given from the entity's entry, or the whole entry (`'all'`): they fall back to the next level. */
  remove(entity: string, keys: readonly string[] | 'all', by: string, options: { isDryRun: boolean }): Promise<QuotaChange> {
    checkEntity(entity);
    if (keys !== 'all') {
      if (keys.length === 0) throw new InvalidArgumentError('name the quotas to remove, or remove the whole entry');
      const unknown = keys.filter((key) => !(QUOTA_KEYS as readonly string[]).includes(key));
      if (unknown.length > 0) throw new InvalidArgumentError(`unknown quota '${unknown[0]}' (known: ${QUOTA_KEYS.join(', ')})`);
    }
    return this.change(entity, by, options, (previous) => {
      if (keys === 'all') return {};
      const next = { ...previous };
      for (const key of keys) delete next[key as QuotaKey];
      return next;
    });
  }

  close(): Promise<void> {
    return this.log.close();
  }

  private change(entity: string, by: string, options: { isDryRun: boolean }, next: (previous: QuotaValues) => QuotaValues): Promise<QuotaChange> {
    const run = this.chain.then(async (): Promise<QuotaChange> => {
      const damage = this.log.damageOf(0);
      if (damage) throw damage;
      const previous = this.entries.get(entity) ?? {};
      const values = next(previous);
      const isChanged = !sameValues(previous, values);
      const maxEntities = this.options.maxEntities ?? MAX_QUOTA_ENTITIES;
      if (isChanged && !this.entries.has(entity) && this.entries.size >= maxEntities) {
        throw new InvalidArgumentError(`the server keeps quotas for at most ${maxEntities} entities: remove some, or set the default entity '*'`);
      }
      const change = { isChanged, entity, previous: { ...previous }, values: { ...values } };
      if (!isChanged || options.isDryRun) return change;
      const atMs = this.options.nowMs();
      const record: QuotaRecord = Object.keys(values).length === 0 ? { type: 'remove', entity, by, atMs } : { type: 'set', entity, values, by, atMs };
      await this.log.append(entity, [record]);
      this.apply(record);
      this.changed();
      return change;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private liveEntries(): ReadonlyMap<string, QuotaValues> {
    return this.log.damageOf(0) ? QuotaStore.NO_ENTRIES : this.entries;
  }

  private changed(): void {
    this.cache.clear();
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        // An enforcer's refresh failing must not fail the change, which is durable already.
        this.options.logger.error({ err: error }, 'a quota change listener failed');
      }
    }
  }

  private snapshot(): Array<StateLogEntry<QuotaRecord>> {
    const atMs = this.options.nowMs();
    return [...this.entries].map(([entity, values]) => ({ key: entity, values: [{ type: 'set' as const, entity, values, by: 'snapshot', atMs }] }));
  }

  private apply(record: QuotaRecord): void {
    // A set record names at least one value (an entry emptied is written as a remove).
    if (record.type === 'set' && Object.keys(record.values).length > 0) this.entries.set(record.entity, record.values);
    else this.entries.delete(record.entity);
  }
}

function checkEntity(entity: string): void {
  if (typeof entity !== 'string' || entity.length === 0 || entity.length > MAX_ENTITY_CHARS) {
    throw new InvalidArgumentError(`a quota entity is a principal name, or '${DEFAULT_QUOTA_ENTITY}' for the default, of at most ${MAX_ENTITY_CHARS} characters`);
  }
}

function sameValues(a: QuotaValues, b: QuotaValues): boolean {
  return QUOTA_KEYS.every((key) => a[key] === b[key]);
}

function parseQuotaRecord(text: string): QuotaRecord | string {
  const r = jsonObjectOf(text);
  if (typeof r === 'string') return r;
  if ((r.type !== 'set' && r.type !== 'remove') || typeof r.entity !== 'string' || r.entity === '' || typeof r.by !== 'string' || !Number.isFinite(r.atMs)) return 'not a quota record';
  if (r.type === 'remove') return { type: 'remove', entity: r.entity, by: r.by, atMs: r.atMs as number };
  if (typeof r.values !== 'object' || r.values === null || Array.isArray(r.values)) return 'not a quota record';
  try {
    return { type: 'set', entity: r.entity, values: validateQuotaValues(r.values as Record<string, unknown>), by: r.by, atMs: r.atMs as number };
  } catch (error) {
    return `not quota values: ${(error as Error).message}`;
  }
}
