import type { DecodedRecord } from '../../../format/index.js';

/**
 * How the console shows a key, value or header value: bytes that are valid UTF-8 as text (and as
 * JSON when they parse as a JSON object or array), anything else as hex; at most `maxFieldBytes` of
 * it, with `isTruncated` when cut. `sizeBytes` is always the whole field's size.
 */
export interface FieldView {
  encoding: 'null' | 'json' | 'utf8' | 'hex';
  /** The shown text: JSON pretty-printed, UTF-8 as is, hex as lowercase pairs. Empty for null. */
  text: string;
  sizeBytes: number;
  isTruncated: boolean;
}

export interface RecordView {
  partition: number;
  offset: number;
  timestampMs: number;
  key: FieldView;
  value: FieldView;
  /** In the record's order, repeated keys kept. */
  headers: Array<{ key: string; value: FieldView }>;
  /** Characters of what this view shows (its cost against the answer's maxBytes). */
  shownChars: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function fieldView(bytes: Buffer | null, maxFieldBytes: number): FieldView {
  if (bytes === null) return { encoding: 'null', text: '', sizeBytes: 0, isTruncated: false };
  const isTruncated = bytes.length > maxFieldBytes;
  const shown = isTruncated ? bytes.subarray(0, maxFieldBytes) : bytes;
  let text: string | undefined;
  try {
    // A cut field is decoded as a stream (a decoder of its own, never flushed): a multi-byte character
    // cut at the end is left out instead of making the whole field binary. A whole field must end cleanly.
    text = isTruncated ? new TextDecoder('utf-8', { fatal: true }).decode(shown, { stream: true }) : utf8.decode(shown);
  } catch {
    text = undefined;
  }
  if (text === undefined || hasControlCharacters(text)) return { encoding: 'hex', text: shown.toString('hex'), sizeBytes: bytes.length, isTruncated };
  if (!isTruncated && /^\s*[[{]/.test(text)) {
    try {
      return { encoding: 'json', text: JSON.stringify(JSON.parse(text) as unknown, null, 2), sizeBytes: bytes.length, isTruncated };
    } catch {
      // Looked like JSON and is not: shown as the text it is.
    }
  }
  return { encoding: 'utf8', text, sizeBytes: bytes.length, isTruncated };
}

/** Text with control characters other than tab, newline and carriage return is binary for display. */
function hasControlCharacters(text: string): boolean {
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text);
}

export function recordView(partition: number, record: DecodedRecord, maxFieldBytes: number): RecordView {
  const key = fieldView(record.key, maxFieldBytes);
  const value = fieldView(record.value, maxFieldBytes);
  const headers = record.headers.map((h) => ({ key: h.key, value: fieldView(h.value, maxFieldBytes) }));
  const shownChars = key.text.length + value.text.length + headers.reduce((sum, h) => sum + h.key.length + h.value.text.length, 0);
  return { partition, offset: record.offset, timestampMs: record.timestampMs, key, value, headers, shownChars };
}
