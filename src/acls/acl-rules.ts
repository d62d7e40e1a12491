import { InvalidArgumentError } from '../core/errors.js';

/** `producer`: a named producer (InitProducer's producer_name, as Kafka's TransactionalId): write on it lets a principal take the name, and so fence its other instances. */
export const RESOURCE_TYPES = ['topic', 'group', 'queue_group', 'schema_subject', 'cluster', 'producer'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];
export const OPERATIONS = ['read', 'write', 'create', 'delete', 'alter', 'describe', 'admin'] as const;
export type Operation = (typeof OPERATIONS)[number];
export const PATTERN_TYPES = ['literal', 'prefix'] as const;
export type PatternType = (typeof PATTERN_TYPES)[number];
export type Permission = 'allow' | 'deny';

/** The one cluster resource's name: cluster rules name it (or use a prefix of ''). */
export const CLUSTER_RESOURCE_NAME = 'strata';
/** A rule for every principal. */
export const ANY_PRINCIPAL = '*';
/** The most rules the server keeps: each call is checked against the rules of its principal and `*`. */
export const MAX_ACL_RULES = 10_000;
const MAX_NAME_CHARS = 1_024;

/** One access control rule, as Kafka's: who, on what (a literal name or a name prefix), which operation, allowed or denied. */
export interface AclRule {
  principal: string;
  resourceType: ResourceType;
  patternType: PatternType;
  /** A literal name, or a prefix (`''` with prefix: every name of the type). */
  resourceName: string;
  operation: Operation;
  permission: Permission;
}

/** What one call needs: an operation on a named resource. */
export interface ResourceAccess {
  resourceType: ResourceType;
  resourceName: string;
  operation: Operation;
}

/** A stable key naming a rule (the same rule added twice is one rule). */
export function aclRuleKey(rule: AclRule): string {
  return JSON.stringify([rule.principal, rule.resourceType, rule.patternType, rule.resourceName, rule.operation, rule.permission]);
}

/** Checks a rule from the wire, CLI or the log; InvalidArgumentError naming the bad field. */
export function validateAclRule(rule: AclRule): AclRule {
  if (typeof rule.principal !== 'string' || rule.principal.length === 0 || rule.principal.length > MAX_NAME_CHARS) {
    throw new InvalidArgumentError(`an ACL needs a principal (a name, or '*' for everyone) of at most ${MAX_NAME_CHARS} characters`);
  }
  if (!RESOURCE_TYPES.includes(rule.resourceType)) throw new InvalidArgumentError(`resource type must be one of ${RESOURCE_TYPES.join(', ')}, got '${String(rule.resourceType)}'`);
  if (!PATTERN_TYPES.includes(rule.patternType)) throw new InvalidArgumentError(`pattern type must be literal or prefix, got '${String(rule.patternType)}'`);
  if (!OPERATIONS.includes(rule.operation)) throw new InvalidArgumentError(`operation must be one of ${OPERATIONS.join(', ')}, got '${String(rule.operation)}'`);
  if (rule.permission !== 'allow' && rule.permission !== 'deny') throw new InvalidArgumentError(`permission must be allow or deny, got '${String(rule.permission)}'`);
  if (typeof rule.resourceName !== 'string' || rule.resourceName.length > MAX_NAME_CHARS) throw new InvalidArgumentError(`a resource name has at most ${MAX_NAME_CHARS} characters`);
  if (rule.patternType === 'literal' && rule.resourceName === '') throw new InvalidArgumentError("a literal rule names its resource (for every name use the prefix '')");
  return { principal: rule.principal, resourceType: rule.resourceType, patternType: rule.patternType, resourceName: rule.resourceName, operation: rule.operation, permission: rule.permission };
}

/** Whether a rule covers this access by this principal. `admin` on a resource implies every operation on it. */
export function ruleMatches(rule: AclRule, principal: string, access: ResourceAccess): boolean {
  if (rule.principal !== ANY_PRINCIPAL && rule.principal !== principal) return false;
  if (rule.resourceType !== access.resourceType) return false;
  if (rule.operation !== access.operation && rule.operation !== 'admin') return false;
  return rule.patternType === 'literal' ? rule.resourceName === access.resourceName : access.resourceName.startsWith(rule.resourceName);
}

/** Reads the rules, whichever store holds them. */
export interface AclRuleSource {
  rules(): readonly AclRule[];
  /** The rules that name this principal or `*` (what a check of its calls reads); default: filtered from rules(). */
  rulesFor?(principal: string): readonly AclRule[];
  /**
   * A number that changes whenever what rules() answers may change (every add or remove), so a caller
   * may keep a decision for as long as it stays the same. Without it, decisions are not kept.
   */
  generation?(): number;
}

export type AuthorizationDecision = { isAllowed: true; reason: 'super user' | 'allowed' | 'authorization off' } | { isAllowed: false; reason: 'denied by rule' | 'no rule allows it' };

/**
 * Decides an access as Kafka's authorizer: super users may do anything; otherwise a matching deny
 * rule wins over any allow; with no matching allow, the answer is no (deny by default). When the
 * server has no authentication configured, `isEnabled` is false and everything is allowed (the
 * anonymous server of before).
 *
 * `describe` is implied by any other allowed operation on the same resource (read, write, alter,
 * delete), as in Kafka, so a producer allowed to write a topic may also look it up.
 */
export class AclAuthorizer {
  private readonly superUsers: ReadonlySet<string>;

  constructor(
    private readonly source: AclRuleSource,
    options: { isEnabled: boolean; superUsers: readonly string[] },
  ) {
    this.isEnabled = options.isEnabled;
    this.superUsers = new Set(options.superUsers);
  }

  readonly isEnabled: boolean;

  /**
   * The rules' generation (AclRuleSource.generation): a decision of authorize() holds, for the same
   * principal and access, while this returns the same number. Undefined: keep no decision.
   */
  generation(): number | undefined {
    return this.source.generation?.();
  }

  authorize(principal: string, access: ResourceAccess): AuthorizationDecision {
    if (!this.isEnabled) return { isAllowed: true, reason: 'authorization off' };
    if (this.superUsers.has(principal)) return { isAllowed: true, reason: 'super user' };
    let isAllowed = false;
    const rules = this.source.rulesFor ? this.source.rulesFor(principal) : this.source.rules();
    for (const rule of rules) {
      if (rule.resourceType !== access.resourceType) continue;
      const covers = ruleMatches(rule, principal, access) || (access.operation === 'describe' && rule.permission === 'allow' && ruleMatches(rule, principal, { ...access, operation: rule.operation }) && IMPLYING_DESCRIBE.has(rule.operation));
      if (!covers) continue;
      if (rule.permission === 'deny' && ruleMatches(rule, principal, access)) return { isAllowed: false, reason: 'denied by rule' };
      if (rule.permission === 'allow') isAllowed = true;
    }
    return isAllowed ? { isAllowed: true, reason: 'allowed' } : { isAllowed: false, reason: 'no rule allows it' };
  }
}

const IMPLYING_DESCRIBE: ReadonlySet<Operation> = new Set(['read', 'write', 'alter', 'delete', 'create']);
