import { describe, expect, it } from 'vitest';
import { AclAuthorizer, type AclRule } from '../../src/acls/acl-rules.js';
import { AclStore } from '../../src/acls/acl-store.js';
import { silentLogger } from '../../src/core/logger.js';
import { useLogManagerFixture } from '../helpers/log-manager-fixture.js';

const rule = (fields: Partial<AclRule>): AclRule => ({ principal: 'alice', resourceType: 'topic', patternType: 'literal', resourceName: 'orders', operation: 'read', permission: 'allow', ...fields });

describe('AclStore', () => {
  const fixture = useLogManagerFixture('strata-acls-');

  it('writes changes to __acls, answers dry runs without writing, and rebuilds the same rules on reopen', async () => {
    let manager = await fixture.open();
    let store = await AclStore.open(manager, { nowMs: () => fixture.clock.nowMs(), logger: silentLogger });
    expect(await store.add(rule({}), 'root', { isDryRun: true })).toMatchObject({ isChanged: true });
    expect(store.rules()).toEqual([]);
    await store.add(rule({}), 'root', { isDryRun: false });
    await store.add(rule({ principal: '*', resourceName: 'public' }), 'root', { isDryRun: false });
    await store.add(rule({ principal: 'bob', operation: 'write' }), 'root', { isDryRun: false });
    await store.add(rule({ principal: 'bob', operation: 'write', permission: 'deny' }), 'root', { isDryRun: false });
    expect(await store.remove(rule({ principal: 'bob', operation: 'write' }), 'root', { isDryRun: false })).toMatchObject({ isChanged: true });
    expect(await store.add(rule({}), 'root', { isDryRun: false })).toMatchObject({ isChanged: false });
    const before = store.rules();
    expect(before).toHaveLength(3);
    // A principal's rules are its own and those of '*'.
    expect(store.rulesFor('alice').map((r) => r.resourceName).sort()).toEqual(['orders', 'public']);
    expect(store.rulesFor('carol').map((r) => r.resourceName)).toEqual(['public']);
    const authorizer = new AclAuthorizer(store, { isEnabled: true, superUsers: [] });
    expect(authorizer.authorize('carol', { resourceType: 'topic', resourceName: 'public', operation: 'read' }).isAllowed).toBe(true);
    expect(authorizer.authorize('bob', { resourceType: 'topic', resourceName: 'orders', operation: 'write' }).isAllowed).toBe(false);
    await store.close();
    await manager.close();

    manager = await fixture.open();
    store = await AclStore.open(manager, { nowMs: () => fixture.clock.nowMs(), logger: silentLogger });
    expect([...store.rules()].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([...before].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))));
    await store.close();
  });

  it('refuses a rule that does not validate, writing nothing', async () => {
    const manager = await fixture.open();
    const store = await AclStore.open(manager, { nowMs: () => fixture.clock.nowMs(), logger: silentLogger });
    await expect(store.add(rule({ operation: 'steal' as never }), 'root', { isDryRun: false })).rejects.toThrow(/operation/);
    expect(store.rules()).toEqual([]);
    await store.close();
  });
});
