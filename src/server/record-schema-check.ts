import type { ProduceRecordCheck, RecordCheckConfig } from '../broker/broker.js';
import { RecordValidationFailedError } from '../core/errors.js';
import { MAX_SCHEMA_DECODERS, MAX_SCHEMA_VALIDATED_TOPICS } from '../core/limits.js';
import type { BatchHeader } from '../format/record-batch.js';
import { visitRecordFields } from '../format/record-fields.js';
import { compilePayloadCheck, type PayloadCheck, SCHEMA_FRAMING_BYTES, SCHEMA_FRAMING_MAGIC_BYTE } from '../schemas/payload-check.js';
import { compileRecordNamer, type RecordNamer } from '../schemas/record-names.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import { LruMap } from '../core/lru-map.js';

type Field = 'key' | 'value';
type Strategy = RecordCheckConfig['schemaSubjectStrategy'];

interface TopicSubjects {
  topic: string;
  value: string;
  key: string;
  /** TopicRecordNameStrategy's `<topic>-<record name>`, made once per name. */
  byRecordName: Map<string, string>;
}

/**
 * A topic's `schema.validation` on the produce path (the broker calls it before it admits a request;
 * README, "Schema validation"). Every record's value, and its key under `schema.key.validation`, must
 * start with Confluent's framing (magic byte 0, a 4-byte big-endian schema id) naming a schema of a
 * live version of the record's subject; under `full` the rest must also decode with that schema
 * (schemas/payload-check.ts). The subject follows `schema.subject.strategy`: `topic` (Confluent's
 * TopicNameStrategy, the default: `<topic>-value`, `<topic>-key`), `record` (RecordNameStrategy: the
 * record name of the id's schema, schemas/record-names.ts) or `topic-record` (`<topic>-<record name>`).
 * Null values and keys (tombstones) pass. The first record that fails refuses the whole request:
 * RecordValidationFailedError naming its index in the request and why.
 *
 * Cost: the ids valid under each subject are a cached Set, dropped when the registry changes that
 * subject (onSubjectChanged: a version registered, soft- or hard-deleted), so the `id` check under the
 * topic strategy is a walk of the records in place (format/record-fields.ts) and a Set lookup per
 * record, with no allocation per record. Compiled payload checks and record namers are cached per
 * schema id (an id's schema never changes), at most MAX_SCHEMA_DECODERS each, least recently used
 * dropped first.
 *
 * Synchronous, and runs on the caller's turn: nothing it reads can change under it.
 */
export class RecordSchemaCheck implements ProduceRecordCheck {
  private readonly subjectsByTopic = new Map<string, TopicSubjects>();
  private readonly idsBySubject = new Map<string, ReadonlySet<number>>();
  private readonly payloadChecks = new LruMap<number, PayloadCheck>(MAX_SCHEMA_DECODERS);
  private readonly recordNamers = new LruMap<number, RecordNamer>(MAX_SCHEMA_DECODERS);
  private readonly unsubscribe: () => void;

  constructor(private readonly registry: SchemaRegistry) {
    this.unsubscribe = registry.onSubjectChanged((subject) => this.idsBySubject.delete(subject));
  }

  close(): void {
    this.unsubscribe();
  }

  check(topic: string, config: RecordCheckConfig, batches: Buffer, headers: readonly BatchHeader[]): void {
    if (config.schemaValidation === 'none') return;
    const subjects = this.subjectsOf(topic);
    const strategy = config.schemaSubjectStrategy;
    const isByTopic = strategy === 'topic';
    const valueIds = isByTopic ? this.idsOf(subjects.value) : undefined;
    const keyIds = isByTopic && config.schemaKeyValidation ? this.idsOf(subjects.key) : undefined;
    const isKeyChecked = config.schemaKeyValidation;
    const isFull = config.schemaValidation === 'full';
    visitRecordFields(
      batches,
      headers,
      (recordIndex, buf, keyStart, keyLength, valueStart, valueLength) => {
        if (isKeyChecked && keyLength >= 0) {
          const id = this.framedId(buf, keyStart, keyLength, recordIndex, 'key');
          if (keyIds === undefined) this.checkRecordSubject(subjects, strategy, id, buf, keyStart, keyLength, recordIndex, 'key');
          else if (!keyIds.has(id)) this.fail(recordIndex, 'key', this.whyNotUnder(id, subjects.key));
          if (isFull) this.checkPayload(id, buf, keyStart, keyLength, recordIndex, 'key');
        }
        if (valueLength >= 0) {
          const id = this.framedId(buf, valueStart, valueLength, recordIndex, 'value');
          if (valueIds === undefined) this.checkRecordSubject(subjects, strategy, id, buf, valueStart, valueLength, recordIndex, 'value');
          else if (!valueIds.has(id)) this.fail(recordIndex, 'value', this.whyNotUnder(id, subjects.value));
          if (isFull) this.checkPayload(id, buf, valueStart, valueLength, recordIndex, 'value');
        }
      },
      { maxBatchBytes: config.maxBatchBytes },
    );
  }

  /** The schema id of a framed key or value; fails the record if it is not framed. */
  private framedId(buf: Buffer, start: number, length: number, recordIndex: number, field: Field): number {
    if (length < SCHEMA_FRAMING_BYTES) {
      this.fail(recordIndex, field, `is ${length} bytes, too short for the schema framing (magic byte 0 and a 4-byte schema id)`);
    }
    const magic = buf[start]!;
    if (magic !== SCHEMA_FRAMING_MAGIC_BYTE) this.fail(recordIndex, field, `does not start with the magic byte 0 of the schema framing (first byte 0x${magic.toString(16).padStart(2, '0')})`);
    // By hand, not readInt32BE: no bounds check to repeat (length >= 5 above) on every record.
    return (buf[start + 1]! << 24) | (buf[start + 2]! << 16) | (buf[start + 3]! << 8) | buf[start + 4]!;
  }

  /** Under the record name strategies: the id must be a live version of the subject its record name gives. */
  private checkRecordSubject(subjects: TopicSubjects, strategy: Strategy, id: number, buf: Buffer, start: number, length: number, recordIndex: number, field: Field): void {
    let namer = this.recordNamers.get(id);
    if (!namer) {
      try {
        const { schemaType, schema, references } = this.registry.resolvedById(id);
        namer = compileRecordNamer(schemaType, schema, references);
      } catch (error) {
        this.fail(recordIndex, field, this.whyNotCompiled(id, error));
      }
      this.recordNamers.set(id, namer);
    }
    const named = namer(buf, start + SCHEMA_FRAMING_BYTES, start + length);
    if (named.problem !== undefined) this.fail(recordIndex, field, `(schema id ${id}) has no record name for schema.subject.strategy=${strategy}: ${named.problem}`);
    let subject = named.name;
    if (strategy === 'topic-record') {
      subject = subjects.byRecordName.get(named.name)!;
      if (subject === undefined) {
        if (subjects.byRecordName.size >= MAX_SCHEMA_DECODERS) subjects.byRecordName.clear();
        subject = `${subjects.topic}-${named.name}`;
        subjects.byRecordName.set(named.name, subject);
      }
    }
    if (!this.idsOf(subject).has(id)) this.fail(recordIndex, field, this.whyNotUnder(id, subject));
  }

  private checkPayload(id: number, buf: Buffer, start: number, length: number, recordIndex: number, field: Field): void {
    let check = this.payloadChecks.get(id);
    if (!check) {
      try {
        const { schemaType, schema, references } = this.registry.resolvedById(id);
        check = compilePayloadCheck(schemaType, schema, references);
      } catch (error) {
        this.fail(recordIndex, field, this.whyNotCompiled(id, error));
      }
      this.payloadChecks.set(id, check);
    }
    const problem = check(buf.subarray(start + SCHEMA_FRAMING_BYTES, start + length));
    if (problem !== undefined) this.fail(recordIndex, field, `(schema id ${id}) does not decode: it ${problem}`);
  }

  private whyNotUnder(id: number, subject: string): string {
    try {
      this.registry.getById(id);
    } catch {
      return `names schema id ${id}, which the schema registry does not know`;
    }
    return `names schema id ${id}, which is not a live version of subject '${subject}'`;
  }

  private whyNotCompiled(id: number, error: unknown): string {
    try {
      this.registry.getById(id);
    } catch {
      return `names schema id ${id}, which the schema registry does not know`;
    }
    return `names schema id ${id}, which cannot be compiled to check it (${(error as Error).message})`;
  }

  private fail(recordIndex: number, field: Field, why: string): never {
    throw new RecordValidationFailedError(`record ${recordIndex} of the request: its ${field} ${why}; nothing of the request was appended`);
  }

  private subjectsOf(topic: string): TopicSubjects {
    let subjects = this.subjectsByTopic.get(topic);
    if (!subjects) {
      if (this.subjectsByTopic.size >= MAX_SCHEMA_VALIDATED_TOPICS) this.subjectsByTopic.clear();
      subjects = { topic, value: `${topic}-value`, key: `${topic}-key`, byRecordName: new Map() };
      this.subjectsByTopic.set(topic, subjects);
    }
    return subjects;
  }

  private idsOf(subject: string): ReadonlySet<number> {
    let ids = this.idsBySubject.get(subject);
    if (!ids) {
      if (this.idsBySubject.size >= 2 * MAX_SCHEMA_VALIDATED_TOPICS) this.idsBySubject.clear();
      ids = this.registry.liveIdsOf(subject);
      this.idsBySubject.set(subject, ids);
    }
    return ids;
  }
}
