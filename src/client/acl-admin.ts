import type { AclRule__Output } from '../generated/strata/v1/AclRule.js';
import type { AclServiceClient } from '../generated/strata/v1/AclService.js';
import { call } from './admin.js';

/**
 * One access control rule (see the server's AclService): a principal (or '*'); a resource type
 * (topic, group, queue_group, schema_subject, cluster, whose one name is 'strata'); a literal name or
 * a prefix; an operation (read, write, create, delete, alter, describe, admin); allow or deny.
 */
export interface AclRuleSpec {
  principal: string;
  resourceType: 'topic' | 'group' | 'queue_group' | 'schema_subject' | 'cluster' | 'producer';
  /** Default literal. */
  patternType?: 'literal' | 'prefix';
  resourceName: string;
  operation: 'read' | 'write' | 'create' | 'delete' | 'alter' | 'describe' | 'admin';
  permission: 'allow' | 'deny';
}

export type AclRule = AclRule__Output;

/** What an add or remove changed; with `dryRun`, what it would change (nothing is written). */
export interface AclChangeResult {
  isChanged: boolean;
  rule: AclRule;
}

/** The ACL calls of Admin (StrataClient.admin.acls). */
export class AclAdmin {
  constructor(
    private readonly stub: AclServiceClient,
    private readonly callTimeoutMs: number,
  ) {}

  async add(rule: AclRuleSpec, options: { dryRun?: boolean } = {}): Promise<AclChangeResult> {
    const response = await call(this.stub.addAcl.bind(this.stub), { rule: { ...rule, patternType: rule.patternType ?? 'literal' }, dryRun: options.dryRun ?? false }, this.callTimeoutMs);
    return { isChanged: response.changed, rule: response.rule! };
  }

  async remove(rule: AclRuleSpec, options: { dryRun?: boolean } = {}): Promise<AclChangeResult> {
    const response = await call(this.stub.removeAcl.bind(this.stub), { rule: { ...rule, patternType: rule.patternType ?? 'literal' }, dryRun: options.dryRun ?? false }, this.callTimeoutMs);
    return { isChanged: response.changed, rule: response.rule! };
  }

  async list(filter: { principal?: string; resourceType?: AclRuleSpec['resourceType'] } = {}): Promise<AclRule[]> {
    return (await call(this.stub.listAcls.bind(this.stub), { principal: filter.principal ?? '', resourceType: filter.resourceType ?? '' }, this.callTimeoutMs)).rules;
  }
}
