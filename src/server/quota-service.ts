import type { QuotaEntry as QuotaEntryProto } from '../generated/strata/v1/QuotaEntry.js';
import type { QuotaServiceHandlers } from '../generated/strata/v1/QuotaService.js';
import type { QuotaValues } from '../quotas/principal-quotas.js';
import type { QuotaChange, QuotaStore } from '../quotas/quota-store.js';
import { principalOf } from './auth/auth-gate.js';
import { unary } from './unary.js';

function entryToProto(entity: string, values: QuotaValues): QuotaEntryProto {
  return { entity, values: { ...values } };
}

function changeToProto(change: QuotaChange) {
  return { changed: change.isChanged, previous: entryToProto(change.entity, change.previous), entry: entryToProto(change.entity, change.values) };
}

/**
 * The quota service: sets and removes keys of an entity's entry (each with validate_only, which says
 * what would change) and lists entries and a principal's resolution, over the QuotaStore. Who may
 * call it is the access table's business (cluster alter and describe); each change records the
 * principal that made it in `__quotas`.
 */
export function createQuotaService(store: QuotaStore): QuotaServiceHandlers {
  return {
    SetQuotas: unary(async (request, call) => changeToProto(await store.set(request.entity, request.values, principalOf(call), { isDryRun: request.validateOnly }))),
    RemoveQuotas: unary(async (request, call) => changeToProto(await store.remove(request.entity, request.all ? 'all' : request.keys, principalOf(call), { isDryRun: request.validateOnly }))),
    ListQuotas: unary(async (request) => ({
      entries: store.list(request.entity === '' ? undefined : request.entity).map((entry) => entryToProto(entry.entity, entry.values)),
      resolved: request.resolvePrincipal === '' ? [] : store.resolve(request.resolvePrincipal).map((quota) => ({ key: quota.key, value: quota.value ?? 0, level: quota.level })),
    })),
  };
}
