import { describe, expect, it } from 'vitest';
import { AclAuthorizer, type AclRule, validateAclRule } from '../../src/acls/acl-rules.js';

const rule = (fields: Partial<AclRule>): AclRule => ({ principal: 'alice', resourceType: 'topic', patternType: 'literal', resourceName: 'orders', operation: 'read', permission: 'allow', ...fields });
const authorizer = (rules: AclRule[], superUsers: string[] = []) => new AclAuthorizer({ rules: () => rules }, { isEnabled: true, superUsers });
const read = (name: string) => ({ resourceType: 'topic' as const, resourceName: name, operation: 'read' as const });

describe('AclAuthorizer', () => {
  it('denies by default, and allows everything when authentication is off', () => {
    expect(authorizer([]).authorize('alice', read('orders')).isAllowed).toBe(false);
    expect(new AclAuthorizer({ rules: () => [] }, { isEnabled: false, superUsers: [] }).authorize('anyone', read('orders')).isAllowed).toBe(true);
  });

  it('matches a literal name exactly, a prefix every name that starts with it', () => {
    const literal = authorizer([rule({})]);
    expect(literal.authorize('alice', read('orders')).isAllowed).toBe(true);
    expect(literal.authorize('alice', read('orders-eu')).isAllowed).toBe(false);
    const prefix = authorizer([rule({ patternType: 'prefix', resourceName: 'orders' })]);
    expect(prefix.authorize('alice', read('orders-eu')).isAllowed).toBe(true);
    expect(prefix.authorize('alice', read('order')).isAllowed).toBe(false);
    expect(authorizer([rule({ patternType: 'prefix', resourceName: '' })]).authorize('alice', read('anything')).isAllowed).toBe(true);
  });

  it('lets a deny win over any allow, and `*` cover every principal', () => {
    const rules = [rule({ principal: '*', patternType: 'prefix', resourceName: '' }), rule({ resourceName: 'secret', permission: 'deny' })];
    expect(authorizer(rules).authorize('alice', read('secret'))).toEqual({ isAllowed: false, reason: 'denied by rule' });
    expect(authorizer(rules).authorize('bob', read('secret')).isAllowed).toBe(true);
    expect(authorizer(rules).authorize('alice', read('public')).isAllowed).toBe(true);
  });

  it('checks the operation and the resource type; admin implies every operation, any use implies describe', () => {
    const readOnly = authorizer([rule({})]);
    expect(readOnly.authorize('alice', { ...read('orders'), operation: 'write' }).isAllowed).toBe(false);
    expect(readOnly.authorize('alice', { ...read('orders'), resourceType: 'group' }).isAllowed).toBe(false);
    expect(readOnly.authorize('alice', { ...read('orders'), operation: 'describe' }).isAllowed).toBe(true);
    expect(authorizer([rule({ operation: 'admin' })]).authorize('alice', { ...read('orders'), operation: 'delete' }).isAllowed).toBe(true);
    // A deny of read does not deny describe; a deny of describe does.
    expect(authorizer([rule({ operation: 'write' }), rule({ permission: 'deny' })]).authorize('alice', { ...read('orders'), operation: 'describe' }).isAllowed).toBe(true);
    expect(authorizer([rule({}), rule({ operation: 'describe', permission: 'deny' })]).authorize('alice', { ...read('orders'), operation: 'describe' }).isAllowed).toBe(false);
  });

  it('lets super users do anything, deny rules or not', () => {
    expect(authorizer([rule({ principal: 'root', permission: 'deny' })], ['root']).authorize('root', read('orders'))).toEqual({ isAllowed: true, reason: 'super user' });
  });
});

describe('validateAclRule', () => {
  it('refuses unknown types, operations and permissions, and a literal rule without a name', () => {
    expect(() => validateAclRule(rule({ resourceType: 'table' as never }))).toThrow(/resource type/);
    expect(() => validateAclRule(rule({ operation: 'steal' as never }))).toThrow(/operation/);
    expect(() => validateAclRule(rule({ permission: 'maybe' as never }))).toThrow(/permission/);
    expect(() => validateAclRule(rule({ resourceName: '' }))).toThrow(/literal/);
    expect(() => validateAclRule(rule({ principal: '' }))).toThrow(/principal/);
    expect(validateAclRule(rule({ patternType: 'prefix', resourceName: '' })).resourceName).toBe('');
  });
});
