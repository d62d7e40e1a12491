import { IncompatibleSchemaError, InvalidArgumentError, InvalidSchemaError, InvalidSchemaVersionError, SchemaAlreadySoftDeletedError, SchemaLimitReachedError, SchemaNotFoundError, SchemaNotSoftDeletedError, SchemaReferencedError, SchemaVersionNotFoundError, SubjectNotFoundError } from '../core/errors.js';
import { SCHEMAS_TOPIC } from '../core/internal-topics.js';
import { MAX_SCHEMA_BYTES, MAX_SCHEMA_REFERENCE_DEPTH, MAX_SCHEMA_REFERENCES, MAX_SCHEMA_SUBJECT_LENGTH, MAX_SCHEMA_SUBJECTS, MAX_SCHEMA_TOTAL_BYTES, MAX_SCHEMA_VERSIONS_PER_SUBJECT } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import { StateLog, type StateLogEntry } from '../storage/state-log.js';
import type { StateLogPort } from '../storage/state-log-port.js';
import { checkCompatibility, DEFAULT_COMPATIBILITY_LEVEL, type CompatibilityLevel } from './compatibility-level.js';
import { schemaFormatOf } from './schema-formats.js';
import type { ResolvedReference, SchemaReference, SchemaType } from './schema-format.js';
import { parseSchemaRecord, type SchemaRecord } from './schema-records.js';

export { SCHEMAS_TOPIC };
export const SCHEMAS_SEGMENT_BYTES = 4 * 1024 * 1024;

export interface SchemaInput {
  schemaType: SchemaType;
  schema: string;
  references: SchemaReference[];
}

export interface RegisteredSchema extends SchemaInput {
  subject: string;
  version: number;
  id: number;
  isDeleted: boolean;
}

/** A version: `latest` (the highest live one), or a positive number. */
export type VersionSelector = number | 'latest';

interface VersionEntry {
  id: number;
  isDeleted: boolean;
}

/** Schemas by id: text, type, references (shared by every subject/version that registered the same one). */
interface StoredSchema extends SchemaInput {
  contentKey: string;
}

/**
 * The schema registry (Confluent's model): subjects hold numbered versions, each naming a schema by
 * a global id; the same schema (type, canonical text, references) keeps one id everywhere, and ids
 * are never given twice. State lives in memory and in `__schemas` (one partition, through the shared
 * state log): every change is durable before it is applied and answered, and the registry is rebuilt
 * by replaying the topic at startup.
 *
 * Writes run one at a time (a queue of promises), so two registrations cannot take the same version
 * or id; reads answer from memory. Soft delete hides a version (kept, readable with `deleted`); hard
 * delete (`permanent`) forgets it, and only a soft-deleted one, as Confluent.
 */
export class SchemaRegistry {
  private readonly schemas = new Map<number, StoredSchema>();
  private readonly idByContent = new Map<string, number>();
  /** subject -> version -> entry; versions kept in ascending order of insertion. */
  private readonly subjects = new Map<string, Map<number, VersionEntry>>();
  private readonly configs = new Map<string, CompatibilityLevel>();
  private globalLevel: CompatibilityLevel | undefined;
  private nextId = 1;
  /** UTF-8 bytes of the texts in `schemas` (MAX_SCHEMA_TOTAL_BYTES bounds it). */
  private schemaBytes = 0;
  private writes: Promise<unknown> = Promise.resolve();
  private readonly parsedById = new Map<number, unknown>();
  private readonly subjectListeners = new Set<(subject: string) => void>();

  private constructor(
    private readonly log: StateLog<SchemaRecord>,
    private readonly nowMs: () => number,
  ) {}

  static async open(logs: StateLogPort, nowMs: () => number, logger: Logger, options: { segmentBytes?: number } = {}): Promise<SchemaRegistry> {
    const log = await StateLog.open<SchemaRecord>(logs, {
      topic: SCHEMAS_TOPIC,
      partitionCount: 1,
      segmentBytes: options.segmentBytes ?? SCHEMAS_SEGMENT_BYTES,
      parse: parseSchemaRecord,
      nowMs,
      logger,
      damageMeaning: 'the registered schemas are unknown past the damage; registrations are refused until an operator acts',
    });
    const registry = new SchemaRegistry(log, nowMs);
    const { replayed } = await log.replay(registry.apply);
    log.setSnapshotSource(() => registry.snapshot());
    logger.info({ subjects: registry.subjects.size, schemas: registry.schemas.size, replayed }, 'schema registry rebuilt from __schemas');
    return registry;
  }

  close(): Promise<void> {
    return this.log.close();
  }

  // Reads ------------------------------------------------------------------------------------------

  listSubjects(options: { includeDeleted?: boolean } = {}): string[] {
    return [...this.subjects].filter(([, versions]) => options.includeDeleted || [...versions.values()].some((v) => !v.isDeleted)).map(([subject]) => subject).sort();
  }

  listVersions(subject: string, options: { includeDeleted?: boolean } = {}): number[] {
    const versions = this.versionsOf(subject, options.includeDeleted);
    return versions.map(([version]) => version);
  }

  getVersion(subject: string, selector: VersionSelector, options: { includeDeleted?: boolean } = {}): RegisteredSchema {
    const versions = this.versionsOf(subject, options.includeDeleted);
    const found = selector === 'latest' ? versions.at(-1) : versions.find(([version]) => version === selector);
    if (!found) throw new SchemaVersionNotFoundError(`subject '${subject}' has no version ${selector}`);
    return this.registered(subject, found[0], found[1]);
  }

  getById(id: number): SchemaInput {
    const stored = this.schemas.get(id);
    if (!stored) throw new SchemaNotFoundError(`no schema has id ${id}`);
    return { schemaType: stored.schemaType, schema: stored.schema, references: stored.references };
  }

  /** Subject/version pairs that hold the schema with `id` (soft-deleted ones with includeDeleted). */
  versionsOfId(id: number, options: { includeDeleted?: boolean } = {}): Array<{ subject: string; version: number }> {
    this.getById(id);
    const out: Array<{ subject: string; version: number }> = [];
    for (const [subject, versions] of this.subjects) for (const [version, entry] of versions) if (entry.id === id && (options.includeDeleted || !entry.isDeleted)) out.push({ subject, version });
    return out;
  }

  /** Ids of the live schemas that reference a version of `subject` (Confluent's referencedby). */
  referencedBy(subject: string, selector: VersionSelector): number[] {
    const { version } = this.getVersion(subject, selector);
    const ids = new Set<number>();
    for (const versions of this.subjects.values()) {
      for (const entry of versions.values()) {
        if (!entry.isDeleted && (this.schemas.get(entry.id)?.references ?? []).some((r) => r.subject === subject && r.version === version)) ids.add(entry.id);
      }
    }
    return [...ids].sort((a, b) => a - b);
  }

  /** The version of `subject` holding this schema (Confluent's lookup). */
  lookup(subject: string, input: SchemaInput, options: { includeDeleted?: boolean } = {}): RegisteredSchema {
    const versions = this.versionsOf(subject, options.includeDeleted);
    const { contentKey } = this.prepare(input);
    const id = this.idByContent.get(contentKey);
    const found = versions.filter(([, entry]) => entry.id === id).at(-1);
    if (id === undefined || !found) throw new SchemaNotFoundError(`the schema is not registered under subject '${subject}'`);
    return this.registered(subject, found[0], found[1]);
  }

  /** Ids of the subject's live (not soft-deleted) versions; empty for an unknown subject. */
  liveIdsOf(subject: string): Set<number> {
    const ids = new Set<number>();
    for (const entry of this.subjects.get(subject)?.values() ?? []) if (!entry.isDeleted) ids.add(entry.id);
    return ids;
  }

  /** The schema with `id` and its references' texts (each one's own first), to compile it; SchemaNotFoundError, InvalidSchemaError. */
  resolvedById(id: number): { schemaType: SchemaType; schema: string; references: ResolvedReference[] } {
    const stored = this.getById(id);
    return { schemaType: stored.schemaType, schema: stored.schema, references: this.resolveReferences(stored.references, 0) };
  }

  /** Calls `listener` with a subject each time a version of it is added, deleted or forgotten; returns the unsubscribe function. */
  onSubjectChanged(listener: (subject: string) => void): () => void {
    this.subjectListeners.add(listener);
    return () => void this.subjectListeners.delete(listener);
  }

  /** The subject's own level, or undefined (`defaultToGlobal`: the global level instead). */
  getConfig(subject?: string, options: { defaultToGlobal?: boolean } = {}): CompatibilityLevel | undefined {
    if (subject === undefined) return this.globalLevel ?? DEFAULT_COMPATIBILITY_LEVEL;
    const own = this.configs.get(subject);
    return own ?? (options.defaultToGlobal ? (this.globalLevel ?? DEFAULT_COMPATIBILITY_LEVEL) : undefined);
  }

  /**
   * Whether `input` may follow the subject's versions: against `selector` only, or (undefined) against
   * the versions the subject's level names. Messages say why not; nothing is stored.
   */
  checkCompatibility(subject: string, input: SchemaInput, selector?: VersionSelector): { isCompatible: boolean; messages: string[] } {
    const prepared = this.prepare(input);
    const live = this.versionsOf(subject, false, { mayBeEmpty: selector === undefined });
    let against = live;
    if (selector !== undefined) {
      const found = selector === 'latest' ? live.at(-1) : live.find(([version]) => version === selector);
      if (!found) throw new SchemaVersionNotFoundError(`subject '${subject}' has no version ${selector}`);
      against = [found];
    }
    const level = this.getConfig(subject, { defaultToGlobal: true })!;
    const messages = this.incompatibilities(level, prepared, against);
    return { isCompatible: messages.length === 0, messages };
  }

  // Writes -----------------------------------------------------------------------------------------

  /** Registers `input` under `subject` (or finds it there): its id and version. Durable before it resolves. */
  register(subject: string, input: SchemaInput): Promise<{ id: number; version: number }> {
    return this.serialize(async () => {
      checkSubjectName(subject);
      const prepared = this.prepare(input);
      const live = this.versionsOf(subject, false, { mayBeEmpty: true });
      const existingId = this.idByContent.get(prepared.contentKey);
      const same = live.find(([, entry]) => entry.id === existingId);
      if (existingId !== undefined && same) return { id: existingId, version: same[0] };
      const versions = this.subjects.get(subject);
      if (!versions && this.subjects.size >= MAX_SCHEMA_SUBJECTS) throw new SchemaLimitReachedError(`the registry holds ${MAX_SCHEMA_SUBJECTS} subjects, its limit`);
      if (versions && versions.size >= MAX_SCHEMA_VERSIONS_PER_SUBJECT) throw new SchemaLimitReachedError(`subject '${subject}' holds ${MAX_SCHEMA_VERSIONS_PER_SUBJECT} versions, its limit: hard-delete old ones`);
      if (existingId === undefined && this.schemaBytes + Buffer.byteLength(input.schema, 'utf8') > MAX_SCHEMA_TOTAL_BYTES) {
        throw new SchemaLimitReachedError(`the registry holds ${this.schemaBytes} bytes of schemas; at most ${MAX_SCHEMA_TOTAL_BYTES}: hard-delete unused ones`);
      }
      const level = this.getConfig(subject, { defaultToGlobal: true })!;
      const messages = this.incompatibilities(level, prepared, live);
      if (messages.length > 0) throw new IncompatibleSchemaError(`the schema is incompatible with subject '${subject}' under ${level}: ${messages.join('; ')}`, messages);
      const id = existingId ?? this.nextId;
      const version = Math.max(0, ...(versions?.keys() ?? [])) + 1;
      await this.write(subject, [{ type: 'version', subject, version, id, ...input, isDeleted: false, atMs: this.nowMs() }]);
      return { id, version };
    });
  }

  /** Soft-deletes a live version, or (permanent) forgets a soft-deleted one. Returns the version. */
  deleteVersion(subject: string, selector: VersionSelector, options: { permanent?: boolean } = {}): Promise<number> {
    return this.serialize(async () => {
      const [version, entry] = this.findForDelete(subject, selector, options.permanent === true);
      this.refuseIfReferenced(subject, version);
      await this.write(subject, [this.deleteRecord(subject, version, entry, options.permanent === true)]);
      return version;
    });
  }

  /** Soft-deletes every live version of a subject, or (permanent) forgets a soft-deleted subject. Returns the versions. */
  deleteSubject(subject: string, options: { permanent?: boolean } = {}): Promise<number[]> {
    return this.serialize(async () => {
      const permanent = options.permanent === true;
      const all = this.versionsOf(subject, true);
      const live = all.filter(([, entry]) => !entry.isDeleted);
      if (permanent && live.length > 0) throw new SchemaNotSoftDeletedError(`subject '${subject}' was not soft-deleted first: delete it without permanent, then with it`);
      if (!permanent && live.length === 0) throw new SchemaAlreadySoftDeletedError(`subject '${subject}' is soft-deleted already: delete it with permanent to remove it for good`);
      const targets = permanent ? all : live;
      for (const [version] of targets) this.refuseIfReferenced(subject, version);
      const records: SchemaRecord[] = targets.map(([version, entry]) => this.deleteRecord(subject, version, entry, permanent));
      if (permanent && this.configs.has(subject)) records.push({ type: 'config', subject, compatibility: null, atMs: this.nowMs() });
      await this.write(subject, records);
      return targets.map(([version]) => version);
    });
  }

  /** Sets (or with null removes) the level of a subject, or the global level (subject undefined). */
  setConfig(subject: string | undefined, level: CompatibilityLevel | null): Promise<void> {
    return this.serialize(async () => {
      if (subject !== undefined) checkSubjectName(subject);
      await this.write(subject ?? '', [{ type: 'config', subject: subject ?? null, compatibility: level, atMs: this.nowMs() }]);
    });
  }

  // Inside -----------------------------------------------------------------------------------------

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writes.then(fn, fn);
    this.writes = run.catch(() => undefined);
    return run;
  }

  private async write(key: string, records: SchemaRecord[]): Promise<void> {
    await this.log.append(key, records);
    for (const record of records) this.apply(record);
  }

  private deleteRecord(subject: string, version: number, entry: VersionEntry, permanent: boolean): SchemaRecord {
    if (permanent) return { type: 'forget', subject, version, atMs: this.nowMs() };
    return { type: 'version', subject, version, id: entry.id, ...this.getById(entry.id), isDeleted: true, atMs: this.nowMs() };
  }

  private findForDelete(subject: string, selector: VersionSelector, permanent: boolean): [number, VersionEntry] {
    const all = this.versionsOf(subject, true);
    const found = selector === 'latest' ? all.filter(([, entry]) => !entry.isDeleted).at(-1) : all.find(([version]) => version === selector);
    if (!found) throw new SchemaVersionNotFoundError(`subject '${subject}' has no version ${selector}`);
    if (permanent && !found[1].isDeleted) throw new SchemaNotSoftDeletedError(`version ${found[0]} of subject '${subject}' was not soft-deleted first: delete it without permanent, then with it`);
    if (!permanent && found[1].isDeleted) throw new SchemaAlreadySoftDeletedError(`version ${found[0]} of subject '${subject}' is soft-deleted already: delete it with permanent to remove it for good`);
    return found;
  }

  private refuseIfReferenced(subject: string, version: number): void {
    for (const [otherSubject, versions] of this.subjects) {
      for (const [otherVersion, entry] of versions) {
        if (entry.isDeleted) continue;
        const references = this.schemas.get(entry.id)?.references ?? [];
        if (references.some((r) => r.subject === subject && r.version === version)) throw new SchemaReferencedError(`version ${version} of subject '${subject}' is referenced by version ${otherVersion} of '${otherSubject}'`);
      }
    }
  }

  /** Versions of a subject, ascending; SubjectNotFoundError when none is visible (unless mayBeEmpty). */
  private versionsOf(subject: string, includeDeleted = false, options: { mayBeEmpty?: boolean } = {}): Array<[number, VersionEntry]> {
    const versions = [...(this.subjects.get(subject) ?? [])].filter(([, entry]) => includeDeleted || !entry.isDeleted).sort(([a], [b]) => a - b);
    if (versions.length === 0 && !options.mayBeEmpty) throw new SubjectNotFoundError(`subject '${subject}' not found`);
    return versions;
  }

  private registered(subject: string, version: number, entry: VersionEntry): RegisteredSchema {
    return { subject, version, id: entry.id, isDeleted: entry.isDeleted, ...this.getById(entry.id) };
  }

  /** Checks size and references, parses: the parsed schema and its identity. Throws InvalidSchemaError. */
  private prepare(input: SchemaInput): { parsed: unknown; contentKey: string; schemaType: SchemaType } {
    const sizeBytes = Buffer.byteLength(input.schema, 'utf8');
    if (sizeBytes > MAX_SCHEMA_BYTES) throw new InvalidSchemaError(`the schema is ${sizeBytes} bytes; at most ${MAX_SCHEMA_BYTES} are accepted`);
    if (input.schema.trim().length === 0) throw new InvalidSchemaError('the schema is empty');
    if (input.references.length > MAX_SCHEMA_REFERENCES) throw new InvalidSchemaError(`the schema has ${input.references.length} references; at most ${MAX_SCHEMA_REFERENCES} are accepted`);
    const format = schemaFormatOf(input.schemaType);
    const parsed = format.parse(input.schema, this.resolveReferences(input.references, 0));
    const references = input.references.map((r) => `${r.name}\u0000${r.subject}\u0000${r.version}`).join('\u0001');
    return { parsed, contentKey: `${input.schemaType}\u0002${format.canonical(input.schema)}\u0002${references}`, schemaType: input.schemaType };
  }

  /** Referenced schemas' texts, each one's own references first; InvalidSchemaError for one that is missing. */
  private resolveReferences(references: readonly SchemaReference[], depth: number): ResolvedReference[] {
    if (depth > MAX_SCHEMA_REFERENCE_DEPTH) throw new InvalidSchemaError(`references nest deeper than ${MAX_SCHEMA_REFERENCE_DEPTH}`);
    const out: ResolvedReference[] = [];
    for (const reference of references) {
      const entry = this.subjects.get(reference.subject)?.get(reference.version);
      if (!entry || entry.isDeleted) throw new InvalidSchemaError(`reference '${reference.name}': subject '${reference.subject}' has no version ${reference.version}`);
      const stored = this.getById(entry.id);
      out.push(...this.resolveReferences(stored.references, depth + 1), { name: reference.name, schema: stored.schema });
    }
    return out;
  }

  private incompatibilities(level: CompatibilityLevel, candidate: { parsed: unknown; schemaType: SchemaType }, against: ReadonlyArray<[number, VersionEntry]>): string[] {
    const format = schemaFormatOf(candidate.schemaType);
    const previous: Array<{ version: number; parsed: unknown }> = [];
    const typeChanges: string[] = [];
    for (const [version, entry] of against) {
      const stored = this.getById(entry.id);
      if (stored.schemaType !== candidate.schemaType) typeChanges.push(`version ${version} is ${stored.schemaType}, the new schema ${candidate.schemaType}`);
      else previous.push({ version, parsed: this.parsedOf(entry.id) });
    }
    if (level === 'NONE') return [];
    return [...typeChanges, ...checkCompatibility(level, candidate.parsed, previous, (reader, writer) => format.incompatibilities(reader, writer))];
  }

  /** A stored schema parsed (cached by id: stored schemas parsed once). */
  private parsedOf(id: number): unknown {
    let parsed = this.parsedById.get(id);
    if (parsed === undefined) {
      const stored = this.getById(id);
      parsed = schemaFormatOf(stored.schemaType).parse(stored.schema, this.resolveReferences(stored.references, 0));
      this.parsedById.set(id, parsed);
    }
    return parsed;
  }

  private snapshot(): Array<StateLogEntry<SchemaRecord>> {
    const atMs = this.nowMs();
    const entries: Array<StateLogEntry<SchemaRecord>> = [{ key: '', values: [{ type: 'next-id', nextId: this.nextId, atMs }, { type: 'config', subject: null, compatibility: this.globalLevel ?? null, atMs }] }];
    for (const [subject, versions] of this.subjects) {
      const values: SchemaRecord[] = [...versions].map(([version, entry]) => ({ type: 'version', subject, version, id: entry.id, ...this.getById(entry.id), isDeleted: entry.isDeleted, atMs }));
      const level = this.configs.get(subject);
      if (level) values.push({ type: 'config', subject, compatibility: level, atMs });
      entries.push({ key: subject, values });
    }
    for (const [subject, level] of this.configs) if (!this.subjects.has(subject)) entries.push({ key: subject, values: [{ type: 'config', subject, compatibility: level, atMs }] });
    return entries;
  }

  private readonly apply = (record: SchemaRecord): void => {
    switch (record.type) {
      case 'next-id':
        this.nextId = Math.max(this.nextId, record.nextId);
        return;
      case 'config':
        if (record.subject === null) this.globalLevel = record.compatibility ?? undefined;
        else if (record.compatibility === null) this.configs.delete(record.subject);
        else this.configs.set(record.subject, record.compatibility);
        return;
      case 'version': {
        const contentKey = contentKeyOf(record);
        if (!this.schemas.has(record.id)) {
          this.schemas.set(record.id, { schemaType: record.schemaType, schema: record.schema, references: record.references, contentKey });
          this.schemaBytes += Buffer.byteLength(record.schema, 'utf8');
        }
        this.idByContent.set(contentKey, record.id);
        this.nextId = Math.max(this.nextId, record.id + 1);
        let versions = this.subjects.get(record.subject);
        if (!versions) this.subjects.set(record.subject, (versions = new Map()));
        versions.set(record.version, { id: record.id, isDeleted: record.isDeleted });
        for (const listener of this.subjectListeners) listener(record.subject);
        return;
      }
      case 'forget': {
        const versions = this.subjects.get(record.subject);
        const entry = versions?.get(record.version);
        versions?.delete(record.version);
        if (versions?.size === 0) this.subjects.delete(record.subject);
        if (entry && !this.isIdHeld(entry.id)) {
          const stored = this.schemas.get(entry.id);
          this.schemas.delete(entry.id);
          this.parsedById.delete(entry.id);
          if (stored) {
            this.idByContent.delete(stored.contentKey);
            this.schemaBytes -= Buffer.byteLength(stored.schema, 'utf8');
          }
        }
        for (const listener of this.subjectListeners) listener(record.subject);
        return;
      }
    }
  };

  private isIdHeld(id: number): boolean {
    for (const versions of this.subjects.values()) for (const entry of versions.values()) if (entry.id === id) return true;
    return false;
  }
}

/** The identity of a stored schema, computed as `prepare` does (canonical text by its format). */
function contentKeyOf(record: SchemaInput): string {
  const references = record.references.map((r) => `${r.name}\u0000${r.subject}\u0000${r.version}`).join('\u0001');
  return `${record.schemaType}\u0002${schemaFormatOf(record.schemaType).canonical(record.schema)}\u0002${references}`;
}

function checkSubjectName(subject: string): void {
  if (subject.length === 0 || subject.length > MAX_SCHEMA_SUBJECT_LENGTH) throw new InvalidArgumentError(`a subject name is 1..${MAX_SCHEMA_SUBJECT_LENGTH} characters, got ${subject.length}`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(subject)) throw new InvalidArgumentError('a subject name may not contain control characters');
}

/** Parses a version path segment: `latest`, `-1` (Confluent's latest) or a positive integer. */
export function parseVersionSelector(text: string): VersionSelector {
  if (text === 'latest' || text === '-1') return 'latest';
  const version = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(version) || version < 1) throw new InvalidSchemaVersionError(`'${text}' is not a version: a positive integer or 'latest'`);
  return version;
}
