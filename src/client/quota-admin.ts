import type { QuotaEntry__Output } from '../generated/strata/v1/QuotaEntry.js';
import type { QuotaServiceClient } from '../generated/strata/v1/QuotaService.js';
import { call } from './admin.js';

/**
 * The quota keys (units in README "Quotas"): bytes/s for the byte rates, calls/s for admin requests,
 * whole numbers for the counts. The server's list (quotas/principal-quotas.ts) is the same; a test
 * keeps them so.
 */
export const QUOTA_NAMES = ['producer_byte_rate', 'consumer_byte_rate', 'admin_request_rate', 'max_groups', 'max_connections', 'max_streams'] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];
/** The entity whose entry every principal without its own value inherits. */
export const DEFAULT_QUOTA_ENTITY = '*';

/** An entity's entry: the keys it sets. */
export interface QuotaEntry {
  entity: string;
  values: Partial<Record<QuotaName, number>>;
}

/** What a set or remove changed; with `dryRun`, what it would change (nothing is written). */
export interface QuotaChangeResult {
  isChanged: boolean;
  previous: QuotaEntry;
  entry: QuotaEntry;
}

/** A key's value as it applies to a principal, and where it comes from. */
export interface ResolvedQuota {
  key: QuotaName;
  /** Null: unlimited. */
  value: number | null;
  level: 'principal' | 'default' | 'config' | 'unlimited';
}

function entryOf(entry: QuotaEntry__Output | null): QuotaEntry {
  return { entity: entry?.entity ?? '', values: { ...(entry?.values ?? {}) } };
}

/** The quota calls (StrataClient.quotas): per-principal quotas kept by the server (QuotaService). */
export class QuotaAdmin {
  constructor(
    private readonly stub: QuotaServiceClient,
    private readonly callTimeoutMs: number,
  ) {}

  /** Sets these keys of the entity's entry (a principal, or '*'); the others stay. */
  async set(entity: string, values: Partial<Record<QuotaName, number>>, options: { dryRun?: boolean } = {}): Promise<QuotaChangeResult> {
    const response = await call(this.stub.setQuotas.bind(this.stub), { entity, values, validateOnly: options.dryRun ?? false }, this.callTimeoutMs);
    return { isChanged: response.changed, previous: entryOf(response.previous), entry: entryOf(response.entry) };
  }

  /** Removes these keys from the entity's entry, or the whole entry ('all'): they fall back to '*', then the server's defaults. */
  async remove(entity: string, keys: readonly QuotaName[] | 'all', options: { dryRun?: boolean } = {}): Promise<QuotaChangeResult> {
    const request = keys === 'all' ? { entity, keys: [], all: true } : { entity, keys: [...keys], all: false };
    const response = await call(this.stub.removeQuotas.bind(this.stub), { ...request, validateOnly: options.dryRun ?? false }, this.callTimeoutMs);
    return { isChanged: response.changed, previous: entryOf(response.previous), entry: entryOf(response.entry) };
  }

  /** The entries (or the named entity's), sorted by entity. */
  async list(filter: { entity?: string } = {}): Promise<QuotaEntry[]> {
    const response = await call(this.stub.listQuotas.bind(this.stub), { entity: filter.entity ?? '', resolvePrincipal: '' }, this.callTimeoutMs);
    return response.entries.map(entryOf);
  }

  /** What applies to the principal after resolution (its entry, '*', the server's defaults), key by key. */
  async resolve(principal: string): Promise<ResolvedQuota[]> {
    const response = await call(this.stub.listQuotas.bind(this.stub), { entity: principal, resolvePrincipal: principal }, this.callTimeoutMs);
    return response.resolved.map((quota) => ({ key: quota.key as QuotaName, value: quota.level === 'unlimited' ? null : quota.value, level: quota.level as ResolvedQuota['level'] }));
  }
}
