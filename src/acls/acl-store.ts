import { InvalidArgumentError } from '../core/errors.js';
import { ACLS_TOPIC } from '../core/internal-topics.js';
import type { Logger } from '../core/logger.js';
import { StateLog, type StateLogEntry } from '../storage/state-log.js';
import type { StateLogPort } from '../storage/state-log-port.js';
import { ANY_PRINCIPAL, type AclRule, type AclRuleSource, aclRuleKey, MAX_ACL_RULES, validateAclRule } from './acl-rules.js';
import { jsonObjectOf } from '../storage/json-record.js';

const ACLS_SEGMENT_BYTES = 1024 * 1024;

/**
 * A record of `__acls` (one partition, JSON in the value, the rule's key as the record key):
 *   { "type": "add",    "rule": AclRule, "by": principal, "atMs" }
 *   { "type": "remove", "rule": AclRule, "by": principal, "atMs" }
 * Replayed in order at startup; the last record of a rule decides whether it holds.
 */
type AclRecord = { type: 'add' | 'remove'; rule: AclRule; by: string; atMs: number };

/** What an add or remove did, or would do (a dry run). */
export interface AclChange {
  /** False when the rule was already there (add) or not there (remove): nothing to write. */
  isChanged: boolean;
  rule: AclRule;
}

/**
 * The server's ACL rules, in memory for every call's check, made durable in `__acls` (through the
 * shared state log: flush=always, one fsync per write) before a change is answered, and rebuilt from
 * it at startup, so a restart keeps them. When the topic's one partition has enough segments, the
 * state log writes a snapshot (every live rule) and cuts the segments below it.
 *
 * Changes run one at a time (a chain), so a dry run's answer and the write agree with what is there.
 */
export class AclStore implements AclRuleSource {
  private readonly byKey = new Map<string, AclRule>();
  private cached: readonly AclRule[] = [];
  /** Per principal, its rules and those of `*`: a call's check reads only these (rebuilt on a change, which is rare). */
  private byPrincipal = new Map<string, readonly AclRule[]>();
  private anyPrincipal: readonly AclRule[] = [];
  private isIndexStale = false;
  /** Counts the changes applied (replayed or live): the authorizer's decisions are kept per generation. */
  private changeCount = 0;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly log: StateLog<AclRecord>,
    private readonly nowMs: () => number,
  ) {}

  static async open(logs: StateLogPort, options: { nowMs: () => number; logger: Logger; segmentBytes?: number }): Promise<AclStore> {
    const log = await StateLog.open<AclRecord>(logs, {
      topic: ACLS_TOPIC,
      partitionCount: 1,
      segmentBytes: options.segmentBytes ?? ACLS_SEGMENT_BYTES,
      parse: parseAclRecord,
      nowMs: options.nowMs,
      logger: options.logger,
      damageMeaning: 'the access control rules are unknown: every call a super user does not make is refused until an operator acts',
    });
    const store = new AclStore(log, options.nowMs);
    const { replayed } = await log.replay((record) => store.apply(record));
    log.setSnapshotSource(() => store.snapshot());
    options.logger.info({ rules: store.byKey.size, replayed }, 'access control rules rebuilt from __acls');
    return store;
  }

  /** Every rule now (the same array until a change). A damaged log holds none: deny by default. */
  rules(): readonly AclRule[] {
    if (this.log.damageOf(0)) return [];
    this.reindex();
    return this.cached;
  }

  rulesFor(principal: string): readonly AclRule[] {
    if (this.log.damageOf(0)) return [];
    this.reindex();
    return this.byPrincipal.get(principal) ?? this.anyPrincipal;
  }

  generation(): number {
    return this.changeCount;
  }

  async add(rule: AclRule, by: string, options: { isDryRun: boolean }): Promise<AclChange> {
    return this.change('add', rule, by, options);
  }

  async remove(rule: AclRule, by: string, options: { isDryRun: boolean }): Promise<AclChange> {
    return this.change('remove', rule, by, options);
  }

  close(): Promise<void> {
    return this.log.close();
  }

  private change(type: 'add' | 'remove', input: AclRule, by: string, options: { isDryRun: boolean }): Promise<AclChange> {
    const rule = validateAclRule(input);
    const run = this.chain.then(async (): Promise<AclChange> => {
      const damage = this.log.damageOf(0);
      if (damage) throw damage;
      const key = aclRuleKey(rule);
      const isChanged = type === 'add' ? !this.byKey.has(key) : this.byKey.has(key);
      if (type === 'add' && isChanged && this.byKey.size >= MAX_ACL_RULES) {
        throw new InvalidArgumentError(`the server keeps at most ${MAX_ACL_RULES} ACL rules: remove some, or use prefix rules`);
      }
      if (!isChanged || options.isDryRun) return { isChanged, rule };
      const record: AclRecord = { type, rule, by, atMs: this.nowMs() };
      await this.log.append(key, [record]);
      this.apply(record);
      return { isChanged, rule };
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private snapshot(): Array<StateLogEntry<AclRecord>> {
    const atMs = this.nowMs();
    return [...this.byKey].map(([key, rule]) => ({ key, values: [{ type: 'add' as const, rule, by: 'snapshot', atMs }] }));
  }

  private apply(record: AclRecord): void {
    const key = aclRuleKey(record.rule);
    if (record.type === 'add') this.byKey.set(key, record.rule);
    else this.byKey.delete(key);
    this.isIndexStale = true;
    this.changeCount++;
  }

  /** Rebuilt on the first read after changes, so a replay of many records builds it once. */
  private reindex(): void {
    if (!this.isIndexStale) return;
    this.isIndexStale = false;
    this.cached = [...this.byKey.values()];
    this.anyPrincipal = this.cached.filter((rule) => rule.principal === ANY_PRINCIPAL);
    const byPrincipal = new Map<string, AclRule[]>();
    for (const rule of this.cached) {
      if (rule.principal === ANY_PRINCIPAL) continue;
      let rules = byPrincipal.get(rule.principal);
      if (!rules) byPrincipal.set(rule.principal, (rules = [...this.anyPrincipal]));
      rules.push(rule);
    }
    this.byPrincipal = byPrincipal;
  }
}

function parseAclRecord(text: string): AclRecord | string {
  const r = jsonObjectOf(text);
  if (typeof r === 'string') return r;
  if ((r.type !== 'add' && r.type !== 'remove') || typeof r.by !== 'string' || !Number.isFinite(r.atMs)) return 'not an ACL record';
  try {
    return { type: r.type, rule: validateAclRule(r.rule as AclRule), by: r.by, atMs: r.atMs as number };
  } catch (error) {
    return `not an ACL rule: ${(error as Error).message}`;
  }
}
