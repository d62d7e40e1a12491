import { readFileSync } from 'node:fs';
import { InvalidArgumentError as UsageError } from 'commander';
import type { SchemaRegistryClient } from '../client/schema-codec.js';
import { schemaSerializer, type Serializer } from '../client/schema-serializer.js';
import { InvalidArgumentError } from '../core/errors.js';

/** `strata produce`'s flags that make it encode JSON input with a schema. */
export interface ValueSchemaOptions {
  valueSchemaId?: number;
  valueSchema?: string;
  schemaType?: 'avro' | 'json' | 'protobuf';
  messageName?: string;
}

export function parseSchemaType(value: string): 'avro' | 'json' | 'protobuf' {
  const type = value.toLowerCase();
  if (type !== 'avro' && type !== 'json' && type !== 'protobuf') throw new UsageError(`--schema-type must be one of avro, json, protobuf, got '${value}'`);
  return type;
}

/**
 * The value serializer `strata produce` uses, or undefined without --value-schema-id / --value-schema.
 * With either, every value (each line, or --value) is JSON text, parsed and encoded in Confluent's
 * framing: with a registered id as it is (the registry says its format), or with the schema of a
 * file, registered under `<topic>-value` on first use (as Confluent's console producers do).
 */
export function valueSerializerFor(options: ValueSchemaOptions): { serializer: (registry: SchemaRegistryClient) => Serializer<unknown>; parse: (text: string, recordNumber: number) => unknown } | undefined {
  if (options.valueSchemaId === undefined && options.valueSchema === undefined) {
    if (options.schemaType !== undefined || options.messageName !== undefined) throw new InvalidArgumentError('--schema-type and --message-name go with --value-schema or --value-schema-id');
    return undefined;
  }
  if (options.valueSchemaId !== undefined && options.valueSchema !== undefined) throw new InvalidArgumentError('use only one of --value-schema-id and --value-schema');
  if (options.valueSchemaId !== undefined && options.schemaType !== undefined) throw new InvalidArgumentError('--schema-type goes with --value-schema (a registered id has its own type)');
  let schema: string | undefined;
  if (options.valueSchema !== undefined) {
    try {
      schema = readFileSync(options.valueSchema, 'utf8');
    } catch (error) {
      throw new InvalidArgumentError(`cannot read --value-schema ${options.valueSchema}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const messageName = options.messageName !== undefined ? { messageName: options.messageName } : {};
  return {
    serializer: (registry) =>
      options.valueSchemaId !== undefined
        ? schemaSerializer({ registry, schemaId: options.valueSchemaId, ...messageName })
        : schemaSerializer({ registry, format: options.schemaType ?? 'avro', schema: schema!, ...messageName }),
    parse: (text, recordNumber) => {
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        throw new InvalidArgumentError(`record ${recordNumber} is not JSON, which a schema needs: ${(error as Error).message}`);
      }
    },
  };
}
