import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../helpers/eventually.js';
import { useInProcessServer } from '../../../helpers/in-process-server.js';
import { makeTempDir } from '../../../helpers/temp-dir.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts', 'console');
/** The flags known to work on our machines: the closed network refuses Chromium's own connections without them. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// `make test` installs Chromium (make browser-deps); under CI a missing one fails here, never skips.
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && process.env['CI']) throw new Error(`${CHROMIUM} is missing: run \`make browser-deps\` (apt-get install chromium)`);

/** A fresh Chromium profile and the page's console errors and uncaught exceptions, collected for the test to assert none. */
async function openBrowser(): Promise<{ context: BrowserContext; page: Page; errors: string[]; close(): Promise<void> }> {
  const profile = await makeTempDir();
  const context = await chromium.launchPersistentContext(profile.path, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => errors.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ''}`));
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      await profile.remove();
    },
  };
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

// The bundle under test is built from the sources now (as make build does), never a stale one, and
// before the servers start: a server reads the console's files once, when it starts.
beforeAll(async () => {
  if (hasChromium) await promisify(execFile)(process.execPath, [join(ROOT, 'console', 'build.mjs')], { cwd: ROOT, timeout: 60_000 });
});

describe.skipIf(!hasChromium)('the web console in headless Chromium', () => {
  const s = useInProcessServer({ consoleActions: true });
  let browser: Awaited<ReturnType<typeof openBrowser>>;
  const url = (hash: string) => `http://127.0.0.1:${s.server.httpPort!}/#${hash}`;
  const api = async (path: string) => (await fetch(`http://127.0.0.1:${s.server.httpPort!}/api${path}`)).json() as Promise<any>;

  beforeAll(async () => {
    // What the pages will show: a topic with keyed JSON records, a group behind on it, a queue group
    // whose member rejected three records (dead letters).
    await s.client.admin.createTopic('console-orders', { partitions: 2 });
    const producer = s.client.producer({ acks: 'durable' });
    for (let i = 0; i < 25; i++) {
      await producer.send('console-orders', { key: `user-${i % 4}`, value: JSON.stringify({ order: i }), partition: i % 2, headers: { source: 'browser-test' } });
    }
    await s.client.admin.createTopic('console-jobs', { partitions: 1 });
    for (let i = 0; i < 5; i++) await producer.send('console-jobs', { key: `job-${i}`, value: `job ${i}` });
    await producer.close();
    await s.client.admin.resetOffsets('console-billing', { topic: 'console-orders', to: { offset: 5 }, partitions: [0], execute: true });
    const queue = s.client.queue({ groupId: 'console-workers', topics: ['console-jobs'], inFlightLimit: 10 });
    let answered = 0;
    for await (const message of queue) {
      if (message.offset < 3) await message.reject('cannot parse');
      else await message.ack();
      if (++answered === 5) break;
    }
    await queue.close();
    await eventually(async () => (await s.client.admin.listOffsets('console-jobs.dlq', 'latest').catch(() => []))[0]?.offset === 3, { what: 'three dead letters in console-jobs.dlq' });
    browser = await openBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('overview: lists the topic with the record count the API gives, with no console error', async () => {
    const { page, errors } = browser;
    const topics = await api('/topics');
    const orders = topics.items.find((t: { name: string }) => t.name === 'console-orders');
    expect(orders.records).toBe(25);
    await page.goto(url('/'));
    const row = page.locator('tr[data-topic="console-orders"]');
    await row.waitFor();
    expect(await row.locator('[data-testid="records"]').innerText()).toBe('25');
    expect(await row.locator('td').nth(1).innerText()).toBe('2');
    expect(errors).toEqual([]);
  });

  it('overview: figures refresh without a reload, and the throughput sparkline draws from the server\'s samples', async () => {
    const { page, errors } = browser;
    await s.client.admin.createTopic('console-live', { partitions: 1 });
    await page.goto(url('/'));
    const records = page.locator('tr[data-topic="console-live"] [data-testid="records"]');
    await records.waitFor();
    expect(await records.innerText()).toBe('0');
    const producer = s.client.producer({ acks: 'durable' });
    for (let i = 0; i < 7; i++) await producer.send('console-live', { value: `live ${i}` });
    await producer.close();
    // The page polls every 5 s; the server samples throughput every 5 s (two samples draw a line).
    await eventually(async () => (await records.innerText()) === '7', { what: 'the overview shows 7 records without a reload', timeoutMs: 20_000, intervalMs: 200 });
    await page.locator('tr[data-topic="console-live"] .chart-spark canvas').waitFor({ timeout: 20_000 });
    await screenshot(page, 'overview');
    expect(errors).toEqual([]);
  });

  it('topic page: partitions and config, and the message browser finds a record by offset and by key', async () => {
    const { page, errors } = browser;
    await page.goto(url('/topics/console-orders'));
    await page.locator('[data-testid="partitions-table"] tbody tr').first().waitFor();
    expect(await page.locator('[data-testid="partitions-table"] tbody tr').count()).toBe(2);
    expect(await page.locator('[data-testid="topic-records"]').innerText()).toBe('25');
    expect(await page.locator('table.config').innerText()).toContain('retention.ms');

    // By offset: partition 1, offset 4 holds order 9 (odd orders go to partition 1, in order).
    await page.selectOption('select[name="partition"]', '1');
    await page.selectOption('select[name="mode"]', 'offset');
    await page.fill('input[name="offset"]', '4');
    await page.fill('input[name="limit"]', '1');
    await page.click('form.browser-form button[type="submit"]');
    const found = page.locator('[data-testid="records-table"] tbody tr[data-offset="4"][data-partition="1"]');
    await found.waitFor();
    expect(await found.innerText()).toContain('"order": 9');
    expect(await found.innerText()).toContain('user-1');
    expect(await found.innerText()).toContain('source');

    // By key, over all partitions from the oldest: exactly the records the API finds for that key.
    const expected = await api('/topics/console-orders/messages?key=user-2&from=earliest');
    expect(expected.records.length).toBeGreaterThan(0);
    await page.selectOption('select[name="partition"]', '');
    await page.selectOption('select[name="mode"]', 'earliest');
    await page.fill('input[name="key"]', 'user-2');
    await page.fill('input[name="limit"]', '50');
    await page.click('form.browser-form button[type="submit"]');
    await eventually(async () => new RegExp(`^${expected.records.length} records`).test(await page.locator('[data-testid="browser-summary"]').innerText()), { what: 'the key search answered' });
    const rows = page.locator('[data-testid="records-table"] tbody tr');
    expect(await rows.count()).toBe(expected.records.length);
    for (const text of await rows.allInnerTexts()) expect(text).toContain('user-2');
    await screenshot(page, 'topic');
    expect(errors).toEqual([]);
  });

  it("consumer groups: the group's lag as the API says, per partition, with a live chart", async () => {
    const { page, errors } = browser;
    const group = await api('/groups/console-billing');
    // Partition 0 holds the 13 even orders and the group committed 5 there.
    expect(group.lag.items[0]).toMatchObject({ partition: 0, committedOffset: 5, lagRecords: 8 });
    expect(group.lagRecords).toBe(group.lag.items.reduce((sum: number, l: { lagRecords: number }) => sum + l.lagRecords, 0));
    await page.goto(url('/groups'));
    await page.locator('tr[data-group="console-billing"]').waitFor();
    expect(await page.locator('tr[data-group="console-billing"] [data-testid="group-lag"]').innerText()).toBe(String(group.lagRecords));
    await screenshot(page, 'groups');
    await page.click('tr[data-group="console-billing"] a');
    await page.locator('[data-testid="group-total-lag"]').waitFor();
    expect(await page.locator('[data-testid="group-total-lag"]').innerText()).toBe(String(group.lagRecords));
    const partitionZero = page.locator('[data-testid="lag-table"] tr[data-topic="console-orders"][data-partition="0"] [data-testid="partition-lag"]');
    expect(await partitionZero.innerText()).toBe(String(group.lag.items[0].lagRecords));
    // The chart fills from the page's own polls (every 2 s): two points make a line.
    await page.locator('.chart[data-points]').first().waitFor({ timeout: 15_000 });
    await screenshot(page, 'group');
    expect(errors).toEqual([]);
  });

  it('queue groups: depth, in flight and dead-letter depth; the dead letters; a confirmed redrive moves them back', async () => {
    const { page, errors } = browser;
    await page.goto(url('/queues'));
    const row = page.locator('tr[data-group="console-workers"]');
    await row.waitFor();
    expect(await row.locator('[data-testid="queue-dlq-depth"]').innerText()).toBe('3');
    expect(await row.locator('[data-testid="queue-depth"]').innerText()).toBe('0');
    await screenshot(page, 'queues');
    await page.click('tr[data-group="console-workers"] a');
    await page.locator('[data-testid="queue-total-dlq"]').waitFor();
    expect(await page.locator('[data-testid="queue-total-dlq"]').innerText()).toBe('3');
    await screenshot(page, 'queue');

    await page.goto(url('/dead-letters/console-jobs.dlq'));
    const letters = page.locator('[data-testid="records-table"] tbody tr');
    await letters.first().waitFor();
    expect(await letters.count()).toBe(3);
    expect(await letters.first().innerText()).toContain('cannot parse');
    expect(await letters.first().innerText()).toContain('console-jobs/0@0');
    const before = (await s.client.admin.listOffsets('console-jobs', 'latest'))[0]!.offset;
    await page.click('button:has-text("Redrive…")');
    await page.locator('[role="dialog"]').waitFor();
    await screenshot(page, 'dead-letters-confirm');
    await page.click('[role="dialog"] button:has-text("Confirm")');
    const result = page.locator('[data-testid="redrive-result"]');
    await result.waitFor();
    expect(await result.innerText()).toContain('Appended 3 records');
    // Back in their source partition: three more records, the rejected ones, with their keys.
    expect((await s.client.admin.listOffsets('console-jobs', 'latest'))[0]!.offset).toBe(before + 3);
    const redriven = await api(`/topics/console-jobs/messages?partition=0&offset=${before}`);
    expect(redriven.records.map((r: { key: { text: string } }) => r.key.text)).toEqual(['job-0', 'job-1', 'job-2']);
    await screenshot(page, 'dead-letters');
    expect(errors).toEqual([]);
  });
});

describe.skipIf(!hasChromium)('the web console in headless Chromium, read-only', () => {
  const s = useInProcessServer();
  let browser: Awaited<ReturnType<typeof openBrowser>>;
  beforeAll(async () => {
    await s.client.admin.createTopic('ro.dlq', { partitions: 1 });
    browser = await openBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('shows the read-only mode, disables redrive, and the API refuses it with 403', async () => {
    const { page, errors } = browser;
    await page.goto(`http://127.0.0.1:${s.server.httpPort!}/#/dead-letters/ro.dlq`);
    const button = page.locator('button:has-text("Redrive…")');
    await button.waitFor();
    await eventually(async () => (await page.locator('header .mode').innerText()) === 'read-only', { what: 'the header shows read-only' });
    expect(await button.isDisabled()).toBe(true);
    const refusal = await page.evaluate(async () => {
      const response = await fetch('/api/dead-letters/ro.dlq/redrive', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      return { status: response.status, body: (await response.json()) as { error: { code: string } } };
    });
    expect(refusal).toEqual({ status: 403, body: { error: expect.objectContaining({ code: 'CONSOLE_ACTIONS_DISABLED' }) } });
    await screenshot(page, 'dead-letters-read-only');
    // The refused fetch above is logged by Chromium as a failed resource: that one is expected.
    expect(errors.filter((e) => !e.includes('403'))).toEqual([]);
  });
});
