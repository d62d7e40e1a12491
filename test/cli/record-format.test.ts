import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/client/consume.js';
import { compileRecordFormat } from '../../src/cli/record-format.js';

const record: ConsumedRecord = {
  topic: 'orders',
  partition: 3,
  offset: 42,
  timestampMs: 1_700_000_000_000,
  key: Buffer.from('alice'),
  value: Buffer.from('paid'),
  headers: [
    { key: 'trace', value: Buffer.from('a') },
    { key: 'flag', value: null },
    { key: 'trace', value: Buffer.from('b') },
  ],
};

describe('compileRecordFormat (kcat -f)', () => {
  it('fills every token and escape', () => {
    expect(compileRecordFormat('%t %p %o %k %v %s %h %T %K %S 100%%\\t|\\r|\\\\|\\n')(record, 'utf8')).toBe('orders 3 42 alice paid paid trace=a,flag,trace=b 1700000000000 5 4 100%\t|\r|\\|\n');
  });

  it('prints a null key or value as nothing and its length as -1, and encodes as asked', () => {
    const format = compileRecordFormat('[%k][%v][%K][%S]');
    expect(format({ ...record, key: null, value: null, headers: [] }, 'utf8')).toBe('[][][-1][-1]');
    expect(compileRecordFormat('%k %v %h')(record, 'base64')).toBe('YWxpY2U= cGFpZA== trace=YQ==,flag,trace=Yg==');
  });

  it('refuses an unknown token or a lone % or \\, naming the known ones', () => {
    expect(() => compileRecordFormat('%x')).toThrow(/unknown '%x'; known: %t topic/);
    expect(() => compileRecordFormat('\\q')).toThrow(/unknown '\\q'/);
    expect(() => compileRecordFormat('value %')).toThrow(/ends in a lone '%'/);
  });
});
