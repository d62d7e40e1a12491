import { InvalidArgumentError } from '../core/errors.js';

/**
 * Per-principal quotas (as Kafka's client quotas, keyed by the authenticated principal; on a server
 * without authentication every call is ANONYMOUS, so the quotas are then the whole server's).
 *
 * The keys, their units and meaning (null or absent: unlimited):
 *   producer_byte_rate  bytes/s of record batches a principal may produce, over all its streams
 *   consumer_byte_rate  bytes/s of record batches a principal may be sent (fetch, subscribe, queue
 *                       deliveries), over all its streams
 *   admin_request_rate  admin calls/s (AdminService, AclService, SchemaService writes, QuotaService
 *                       writes)
 *   max_groups          consumer groups plus queue groups a principal may hold at once (while one
 *                       of the group's live members joined as it; committed offsets alone hold
 *                       nothing, so an emptied group locks no one out: count-quotas.ts)
 *   max_connections     open connections (HTTP/2 sessions) of a principal
 *   max_streams         open streaming calls of a principal (produce, subscribe, heartbeat, queue)
 *
 * Rates are enforced as Kafka does: the request is served whole (nothing is dropped), then the answer
 * is held back for the throttle time that brings the principal's rate over the window back to its
 * quota, and the throttle time is reported in the answer (`throttle_time_ms` in produce/fetch/
 * subscribe/queue answers, the `strata-throttle-time-ms` trailer on unary calls) so the client backs
 * off too. Counts are enforced by refusal (QUOTA_EXCEEDED, RESOURCE_EXHAUSTED, not retriable until
 * something is released).
 *
 * Resolution, most specific first (as Kafka's user / <default> entities): the principal's own entry,
 * then the default entry (principal `*`), then the server config's `quotas` defaults. Each key is
 * resolved on its own: an entry that sets only producer_byte_rate leaves the others to the next level.
 */
export const QUOTA_KEYS = ['producer_byte_rate', 'consumer_byte_rate', 'admin_request_rate', 'max_groups', 'max_connections', 'max_streams'] as const;
export type QuotaKey = (typeof QUOTA_KEYS)[number];

/** One entity's settings: a key absent is inherited from the next level. */
export type QuotaValues = Partial<Record<QuotaKey, number>>;

/** What applies to one principal after resolution: null is unlimited. */
export type ResolvedQuotas = Record<QuotaKey, number | null>;

/** The entity that holds the defaults every principal without its own value inherits. */
export const DEFAULT_QUOTA_ENTITY = '*';

/** The trailer (unary calls) that carries how long the answer was held back for a rate quota. */
export const THROTTLE_TIME_METADATA_KEY = 'strata-throttle-time-ms';

/** The most a single answer is held back, as Kafka's quota window bound: a client is never starved. */
export const MAX_THROTTLE_TIME_MS = 30_000;

/** Where the quotas in force come from: the `__quotas` store, or a fixed set in tests. */
export interface QuotaSource {
  /** The principal's quotas now. Called on hot paths: must be cheap (a map lookup, cached). */
  quotasFor(principal: string): ResolvedQuotas;
  /** Called after any change, so enforcers holding resolved values can refresh them. */
  onChange(listener: () => void): void;
}

const RATE_KEYS: ReadonlySet<QuotaKey> = new Set(['producer_byte_rate', 'consumer_byte_rate', 'admin_request_rate']);

/** InvalidArgumentError for an unknown key or a value that is not a positive number (integers for counts). */
export function validateQuotaValues(values: Record<string, unknown>): QuotaValues {
  const result: QuotaValues = {};
  for (const [key, value] of Object.entries(values)) {
    if (!(QUOTA_KEYS as readonly string[]).includes(key)) throw new InvalidArgumentError(`unknown quota '${key}' (known: ${QUOTA_KEYS.join(', ')})`);
    const quotaKey = key as QuotaKey;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`quota ${key} must be a positive number, got ${JSON.stringify(value)}`);
    if (!RATE_KEYS.has(quotaKey) && !Number.isInteger(value)) throw new InvalidArgumentError(`quota ${key} is a count: it must be a whole number, got ${value}`);
    result[quotaKey] = value;
  }
  return result;
}

/** The principal's quotas: its own entry, else the `*` entry, else the config defaults; key by key. */
export function resolveQuotas(principal: string, entries: ReadonlyMap<string, QuotaValues>, defaults: QuotaValues): ResolvedQuotas {
  const own = entries.get(principal);
  const fallback = entries.get(DEFAULT_QUOTA_ENTITY);
  const resolved = {} as ResolvedQuotas;
  for (const key of QUOTA_KEYS) resolved[key] = own?.[key] ?? fallback?.[key] ?? defaults[key] ?? null;
  return resolved;
}

/** A fixed set of entries (server config defaults, tests): never changes. */
export class StaticQuotaSource implements QuotaSource {
  private readonly cache = new Map<string, ResolvedQuotas>();
  constructor(
    private readonly entries: ReadonlyMap<string, QuotaValues> = new Map(),
    private readonly defaults: QuotaValues = {},
  ) {}

  quotasFor(principal: string): ResolvedQuotas {
    let resolved = this.cache.get(principal);
    if (resolved === undefined) {
      resolved = resolveQuotas(principal, this.entries, this.defaults);
      if (this.cache.size < 10_000) this.cache.set(principal, resolved);
    }
    return resolved;
  }

  onChange(): void {}
}
