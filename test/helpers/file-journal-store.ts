import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessedKeyStore } from '../../src/client/idempotent-consumer.js';

/** What a record's effect writes through the store's transaction. */
export interface JournalTransaction {
  write(effect: object): void;
}

export interface JournalEntry {
  key: string;
  effects: object[];
}

/**
 * A stand-in for the application's own database in the delivery-guarantee tests: each transaction
 * is one file holding the record's key (the mark) and the effects its handler wrote, made visible
 * at once by a rename, so a SIGKILL leaves either both or neither (a torn `.tmp-` file is removed
 * at the next open). Files are named by transaction, not by key: an effect applied twice would show
 * as two files with one key, which the tests count. Atomic against a process crash, not a power
 * loss (no fsync: the page cache outlives the process). One process at a time.
 */
export class FileJournalStore implements ProcessedKeyStore<JournalTransaction> {
  private readonly keys = new Set<string>();
  private sequence = 0;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    for (const entry of readJournal(dir, { removeTorn: true })) this.keys.add(entry.key);
  }

  async runOnce(key: string, effect: (tx: JournalTransaction) => void | Promise<void>): Promise<boolean> {
    if (this.keys.has(key)) return false;
    const effects: object[] = [];
    await effect({ write: (e) => void effects.push(e) });
    const name = `tx-${process.pid}-${Date.now()}-${this.sequence++}.json`;
    const tmp = join(this.dir, `.tmp-${name}`);
    writeFileSync(tmp, JSON.stringify({ key, effects } satisfies JournalEntry));
    renameSync(tmp, join(this.dir, name));
    this.keys.add(key);
    return true;
  }
}

/** Every committed transaction in `dir`; `removeTorn` deletes the temporary files a crash left. */
export function readJournal(dir: string, options: { removeTorn?: boolean } = {}): JournalEntry[] {
  const entries: JournalEntry[] = [];
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.tmp-')) {
      if (options.removeTorn) rmSync(join(dir, name), { force: true });
      continue;
    }
    entries.push(JSON.parse(readFileSync(join(dir, name), 'utf8')) as JournalEntry);
  }
  return entries;
}
