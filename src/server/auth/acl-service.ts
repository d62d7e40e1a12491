import type { AclRule, Operation, PatternType, Permission, ResourceType } from '../../acls/acl-rules.js';
import type { AclStore } from '../../acls/acl-store.js';
import { InvalidArgumentError } from '../../core/errors.js';
import type { AclRule as AclRuleProto } from '../../generated/strata/v1/AclRule.js';
import type { AclServiceHandlers } from '../../generated/strata/v1/AclService.js';
import { unary } from '../unary.js';
import { principalOf } from './auth-gate.js';

function ruleFromProto(rule: AclRuleProto | null | undefined): AclRule {
  if (!rule) throw new InvalidArgumentError('the request names no rule');
  return {
    principal: rule.principal ?? '',
    resourceType: (rule.resourceType ?? '') as ResourceType,
    patternType: ((rule.patternType ?? '') || 'literal') as PatternType,
    resourceName: rule.resourceName ?? '',
    operation: (rule.operation ?? '') as Operation,
    permission: (rule.permission ?? '') as Permission,
  };
}

export function ruleToProto(rule: AclRule): AclRuleProto {
  return { ...rule };
}

/**
 * The ACL service: adds, removes (each with a dry run that says whether it would change anything) and
 * lists the rules of AclStore. Who may call it is the access table's business (cluster alter and
 * describe); each change records the principal that made it in `__acls`.
 */
export function createAclService(store: AclStore): AclServiceHandlers {
  return {
    AddAcl: unary(async (request, call) => {
      const { isChanged, rule } = await store.add(ruleFromProto(request.rule), principalOf(call), { isDryRun: request.dryRun });
      return { changed: isChanged, rule: ruleToProto(rule) };
    }),
    RemoveAcl: unary(async (request, call) => {
      const { isChanged, rule } = await store.remove(ruleFromProto(request.rule), principalOf(call), { isDryRun: request.dryRun });
      return { changed: isChanged, rule: ruleToProto(rule) };
    }),
    ListAcls: unary(async (request) => {
      const rules = store
        .rules()
        .filter((rule) => (request.principal === '' || rule.principal === request.principal) && (request.resourceType === '' || rule.resourceType === request.resourceType));
      return { rules: rules.map(ruleToProto) };
    }),
  };
}
