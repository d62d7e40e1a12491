import { avroFormat } from './avro-format.js';
import { jsonSchemaFormat } from './json-schema-format.js';
import { protobufFormat } from './protobuf-format.js';
import type { SchemaFormat, SchemaType } from './schema-format.js';

const FORMATS: Readonly<Record<SchemaType, SchemaFormat<unknown>>> = {
  AVRO: avroFormat as SchemaFormat<unknown>,
  JSON: jsonSchemaFormat as SchemaFormat<unknown>,
  PROTOBUF: protobufFormat as SchemaFormat<unknown>,
};

export function schemaFormatOf(type: SchemaType): SchemaFormat<unknown> {
  return FORMATS[type];
}
