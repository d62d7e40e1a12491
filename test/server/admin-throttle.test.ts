import type * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { StaticQuotaSource } from '../../src/quotas/principal-quotas.js';
import { RateQuotas } from '../../src/quotas/rate-quotas.js';
import { createAdminThrottleInterceptor, isAdminMethod } from '../../src/server/admin-throttle.js';

describe('the admin throttle interceptor', () => {
  const clock = new ManualClock();
  const interceptor = createAdminThrottleInterceptor({ rates: new RateQuotas(new StaticQuotaSource(), { clock }), clock });

  it('hands every call but the admin actions back as it came: no layer on the produce and read paths', () => {
    for (const path of ['/strata.v1.ProduceService/Produce', '/strata.v1.ConsumeService/Subscribe', '/strata.v1.ConsumeService/Fetch', '/strata.v1.AdminService/ListTopics']) {
      const call = { path } as unknown as grpc.ServerInterceptingCallInterface;
      expect(interceptor({ path } as grpc.ServerMethodDefinition<unknown, unknown>, call), path).toBe(call);
    }
  });

  it('counts the audited admin actions, quota and ACL writes among them', () => {
    for (const path of ['/strata.v1.AdminService/DeleteTopic', '/strata.v1.QuotaService/SetQuotas', '/strata.v1.QuotaService/RemoveQuotas', '/strata.v1.AclService/AddAcl']) expect(isAdminMethod(path), path).toBe(true);
    expect(isAdminMethod('/strata.v1.QuotaService/ListQuotas')).toBe(false);
  });
});
