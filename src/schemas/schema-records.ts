import { isSchemaType, type SchemaReference, type SchemaType } from './schema-format.js';
import { COMPATIBILITY_LEVELS, type CompatibilityLevel } from './compatibility-level.js';
import { jsonObjectOf } from '../storage/json-record.js';

/**
 * A record of `__schemas`, JSON in the value, keyed by subject ('' for the global config):
 *   { "type": "version", "subject", "version", "id", "schemaType", "schema", "references", "isDeleted", "atMs" }
 *        a version registered (isDeleted false), soft-deleted (true; the same record again), or a
 *        snapshot of it
 *   { "type": "forget", "subject", "version", "atMs" }   a version hard-deleted
 *   { "type": "config", "subject" (null: global), "compatibility" (null: removed), "atMs" }
 *   { "type": "next-id", "nextId", "atMs" }   in snapshots, so an id is never given twice even after
 *        every version holding it was hard-deleted
 * Replay applies them in order; the latest record per subject/version wins.
 */
export type SchemaRecord =
  | { type: 'version'; subject: string; version: number; id: number; schemaType: SchemaType; schema: string; references: SchemaReference[]; isDeleted: boolean; atMs: number }
  | { type: 'forget'; subject: string; version: number; atMs: number }
  | { type: 'config'; subject: string | null; compatibility: CompatibilityLevel | null; atMs: number }
  | { type: 'next-id'; nextId: number; atMs: number };

const isText = (value: unknown): value is string => typeof value === 'string';
const isPositive = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;

function isReference(value: unknown): value is SchemaReference {
  const r = value as Record<string, unknown>;
  return typeof value === 'object' && value !== null && isText(r.name) && isText(r.subject) && isPositive(r.version);
}

/** The record, or why it is not one the registry writes. */
export function parseSchemaRecord(text: string): SchemaRecord | string {
  const r = jsonObjectOf(text);
  if (typeof r === 'string') return r;
  if (!Number.isFinite(r.atMs)) return 'not a schema record';
  switch (r.type) {
    case 'version':
      if (isText(r.subject) && isPositive(r.version) && isPositive(r.id) && isSchemaType(r.schemaType) && isText(r.schema) && Array.isArray(r.references) && r.references.every(isReference) && typeof r.isDeleted === 'boolean') return r as SchemaRecord;
      return 'not a version record';
    case 'forget':
      return isText(r.subject) && isPositive(r.version) ? (r as SchemaRecord) : 'not a forget record';
    case 'config':
      if ((r.subject === null || isText(r.subject)) && (r.compatibility === null || (COMPATIBILITY_LEVELS as readonly unknown[]).includes(r.compatibility))) return r as SchemaRecord;
      return 'not a config record';
    case 'next-id':
      return isPositive(r.nextId) ? (r as SchemaRecord) : 'not a next-id record';
    default:
      return `unknown record type ${String(r.type)}`;
  }
}
