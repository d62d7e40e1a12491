import type { ProduceRecordCheck, RecordCheckConfig } from '../broker/broker.js';
import { RecordValidationFailedError } from '../core/errors.js';
import { MAX_SCHEMA_DECODERS, MAX_SCHEMA_VALIDATED_TOPICS } from '../core/limits.js';
import type { BatchHeader } from '../format/record-batch.js';
import { visitRecordFields } from '../format/record-fields.js';
import { compilePayloadCheck, type PayloadCheck, SCHEMA_FRAMING_BYTES, SCHEMA_FRAMING_MAGIC_BYTE } from '../schemas/payload-check.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';

interface TopicSubjects {
  value: string;
  key: string;
}

/**
 * A topic's `schema.validation` on the produce path (the broker calls it before it admits a request;
 * README, "Schema validation"). Every record's value, and its key under `schema.key.validation`, must
 * start with Confluent's framing (magic byte 0, a 4-byte big-endian schema id) naming a schema of a
 * live version of the topic's subject (TopicNameStrategy: `<topic>-value`, `<topic>-key`); under
 * `full` the rest must also decode with that schema (schemas/payload-check.ts). Null values and keys
 * (tombstones) pass. The first record that fails refuses the whole request: RecordValidationFailedError
 * naming its index in the request and why.
 *
 * Cost: the ids valid under each subject are a cached Set, dropped when the registry changes that
 * subject (onSubjectChanged: a version registered, soft- or hard-deleted), so the `id` check is a walk
 * of the records in place (format/record-fields.ts) and a Set lookup per record, with no allocation
 * per record. Compiled payload checks are cached per schema id (an id's schema never changes), at
 * most MAX_SCHEMA_DECODERS, least recently used dropped first.
 *
 * Synchronous, and runs on the caller's turn: nothing it reads can change under it.
 */
export class RecordSchemaCheck implements ProduceRecordCheck {
  private readonly subjectsByTopic = new Map<string, TopicSubjects>();
  private readonly idsBySubject = new Map<string, ReadonlySet<number>>();
  /** Insertion order is recency: a hit is deleted and set again. */
  private readonly payloadChecks = new Map<number, PayloadCheck>();
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
    const valueIds = this.idsOf(subjects.value);
    const keyIds = config.schemaKeyValidation ? this.idsOf(subjects.key) : undefined;
    const isFull = config.schemaValidation === 'full';
    visitRecordFields(
      batches,
      headers,
      (recordIndex, buf, keyStart, keyLength, valueStart, valueLength) => {
        if (keyIds !== undefined && keyLength >= 0) this.checkField(buf, keyStart, keyLength, keyIds, isFull, recordIndex, 'key', subjects.key);
        if (valueLength >= 0) this.checkField(buf, valueStart, valueLength, valueIds, isFull, recordIndex, 'value', subjects.value);
      },
      { maxBatchBytes: config.maxBatchBytes },
    );
  }

  private checkField(buf: Buffer, start: number, length: number, ids: ReadonlySet<number>, isFull: boolean, recordIndex: number, field: 'key' | 'value', subject: string): void {
    if (length < SCHEMA_FRAMING_BYTES) {
      this.fail(recordIndex, field, `is ${length} bytes, too short for the schema framing (magic byte 0 and a 4-byte schema id)`);
    }
    const magic = buf[start]!;
    if (magic !== SCHEMA_FRAMING_MAGIC_BYTE) this.fail(recordIndex, field, `does not start with the magic byte 0 of the schema framing (first byte 0x${magic.toString(16).padStart(2, '0')})`);
    // By hand, not readInt32BE: no bounds check to repeat (length >= 5 above) on every record.
    const id = (buf[start + 1]! << 24) | (buf[start + 2]! << 16) | (buf[start + 3]! << 8) | buf[start + 4]!;
    if (!ids.has(id)) this.fail(recordIndex, field, this.whyNotUnder(id, subject));
    if (!isFull) return;
    const problem = this.payloadCheckOf(id, recordIndex, field)(buf.subarray(start + SCHEMA_FRAMING_BYTES, start + length));
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

  private fail(recordIndex: number, field: 'key' | 'value', why: string): never {
    throw new RecordValidationFailedError(`record ${recordIndex} of the request: its ${field} ${why}; nothing of the request was appended`);
  }

  private subjectsOf(topic: string): TopicSubjects {
    let subjects = this.subjectsByTopic.get(topic);
    if (!subjects) {
      if (this.subjectsByTopic.size >= MAX_SCHEMA_VALIDATED_TOPICS) this.subjectsByTopic.clear();
      subjects = { value: `${topic}-value`, key: `${topic}-key` };
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

  private payloadCheckOf(id: number, recordIndex: number, field: 'key' | 'value'): PayloadCheck {
    let check = this.payloadChecks.get(id);
    if (check) {
      this.payloadChecks.delete(id);
      this.payloadChecks.set(id, check);
      return check;
    }
    try {
      const { schemaType, schema, references } = this.registry.resolvedById(id);
      check = compilePayloadCheck(schemaType, schema, references);
    } catch (error) {
      this.fail(recordIndex, field, `names schema id ${id}, which cannot be compiled to check it (${(error as Error).message})`);
    }
    if (this.payloadChecks.size >= MAX_SCHEMA_DECODERS) this.payloadChecks.delete(this.payloadChecks.keys().next().value!);
    this.payloadChecks.set(id, check);
    return check;
  }
}
