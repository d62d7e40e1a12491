import type { AclAuthorizer, AuthorizationDecision, ResourceAccess } from '../../acls/acl-rules.js';

/** Decisions one call keeps before it starts again from none: a produce stream writing to many topics stays bounded. */
export const MAX_DECISIONS_PER_CALL = 256;

/**
 * One call's authorization decisions, per (resource type, operation, name), kept while the rules'
 * generation (AclAuthorizer.generation) stays the same and dropped as soon as it moves, so a rule
 * added or removed applies from the call's next request. The last decision is compared field by field
 * first: a produce stream's requests name one topic after another, and that costs three string
 * comparisons instead of a hash of a key built per message. Without a generation nothing is kept.
 */
export class KeptDecisions {
  private generation: number | undefined;
  private last: { access: ResourceAccess; decision: AuthorizationDecision } | undefined;
  private readonly byTypeAndOperation = new Map<string, Map<string, Map<string, AuthorizationDecision>>>();
  private size = 0;

  constructor(
    private readonly authorizer: AclAuthorizer,
    private readonly principal: () => string,
  ) {}

  authorize(access: ResourceAccess): AuthorizationDecision {
    const generation = this.authorizer.generation();
    if (generation === undefined) return this.authorizer.authorize(this.principal(), access);
    if (generation !== this.generation) {
      this.clear();
      this.generation = generation;
    }
    const last = this.last;
    if (last !== undefined && last.access.resourceName === access.resourceName && last.access.operation === access.operation && last.access.resourceType === access.resourceType) return last.decision;
    let decision = this.byTypeAndOperation.get(access.resourceType)?.get(access.operation)?.get(access.resourceName);
    if (decision === undefined) {
      decision = this.authorizer.authorize(this.principal(), access);
      if (this.size >= MAX_DECISIONS_PER_CALL) this.clear();
      let byOperation = this.byTypeAndOperation.get(access.resourceType);
      if (byOperation === undefined) this.byTypeAndOperation.set(access.resourceType, (byOperation = new Map()));
      let byName = byOperation.get(access.operation);
      if (byName === undefined) byOperation.set(access.operation, (byName = new Map()));
      byName.set(access.resourceName, decision);
      this.size++;
    }
    this.last = { access, decision };
    return decision;
  }

  private clear(): void {
    this.byTypeAndOperation.clear();
    this.size = 0;
    this.last = undefined;
  }
}
