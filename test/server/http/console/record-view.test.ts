import { describe, expect, it } from 'vitest';
import { fieldView } from '../../../../src/server/http/console/record-view.js';

describe('fieldView', () => {
  it('shows UTF-8 as text, a JSON object or array pretty-printed, other bytes as hex, null as null', () => {
    expect(fieldView(Buffer.from('héllo'), 100)).toEqual({ encoding: 'utf8', text: 'héllo', sizeBytes: 6, isTruncated: false });
    expect(fieldView(Buffer.from('[1,2]'), 100)).toEqual({ encoding: 'json', text: '[\n  1,\n  2\n]', sizeBytes: 5, isTruncated: false });
    // A JSON scalar reads better as the text it is; text that only looks like JSON stays text.
    expect(fieldView(Buffer.from('42'), 100).encoding).toBe('utf8');
    expect(fieldView(Buffer.from('{not json'), 100)).toMatchObject({ encoding: 'utf8', text: '{not json' });
    expect(fieldView(Buffer.from([0xc3, 0x28]), 100)).toMatchObject({ encoding: 'hex', text: 'c328' });
    // Valid UTF-8 with control characters is binary for display (tab and newline are text).
    expect(fieldView(Buffer.from('a\u0000b'), 100)).toMatchObject({ encoding: 'hex', text: '610062' });
    expect(fieldView(Buffer.from('a\tb\nc'), 100).encoding).toBe('utf8');
    expect(fieldView(null, 100)).toEqual({ encoding: 'null', text: '', sizeBytes: 0, isTruncated: false });
    expect(fieldView(Buffer.alloc(0), 100)).toEqual({ encoding: 'utf8', text: '', sizeBytes: 0, isTruncated: false });
  });

  it('cuts at maxFieldBytes, also inside a multi-byte character, and says so; cut JSON is shown as text', () => {
    const cut = fieldView(Buffer.from('aé'), 2); // 'a' and the first byte of 'é'
    expect(cut).toEqual({ encoding: 'utf8', text: 'a', sizeBytes: 3, isTruncated: true });
    expect(fieldView(Buffer.from('{"a":1}'), 4)).toEqual({ encoding: 'utf8', text: '{"a"', sizeBytes: 7, isTruncated: true });
    expect(fieldView(Buffer.from([1, 2, 3, 4]), 2)).toEqual({ encoding: 'hex', text: '0102', sizeBytes: 4, isTruncated: true });
  });
});
