/// <reference lib="dom" />
// The operator console in a real browser (playwright-core driving the system's Chromium) against the whole
// service on its embedded chain: sign in; the readings page at 375 px over 100,000 readings pages, filters and
// is reachable by Tab alone; the overview's counts equal the API's; a meter registered in the console, readings
// posted for it through the API, and their batch watched to completion on its page; a failed reading retried
// from the dead-letter page; pause and resume; a gateway created and its shown key used; a wrong token, an
// expired session and a change without the CSRF token refused; pages live without a reload (a reading posted
// through the API appears on the Readings page, a gateway made elsewhere on the Gateways page); gateway rotate
// and disable; retry by filter; a CSV import naming every bad line. Each test saves a screenshot in test-results/.
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Keypair } from '@solana/web3.js';
import { eq, sql } from 'drizzle-orm';
import { readings } from '../../src/db/schema.js';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { loadConfig } from '../../src/config.js';
import { makeLog } from '../../src/log.js';
import { startService, type RunningService } from '../../src/service.js';
import { freshPostgres, postgresAvailable, type TestDatabase, waitFor } from '../support/db.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const INSTALL = 'apt-get install -y chromium';
const SEEDED = 100_000;
const OUT = 'test-results';

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  const msg = `the browser tests need Chromium at ${CHROMIUM} (set CHROMIUM_PATH, or: ${INSTALL})`;
  if (process.env.CI) throw new Error(msg);
  process.stdout.write(`skipped: ${msg}\n`);
}
const maybe = haveChromium ? describe : describe.skip;

maybe('operator console in Chromium', () => {
  let t: TestDatabase | null = null;
  let svc: RunningService;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let base: string;
  const api = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, { ...init, headers: { authorization: 'Bearer op', 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const shot = (name: string) => page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
  const signIn = async (p: Page, token = 'op') => {
    await p.goto(`${base}/console/login`);
    await p.getByLabel('Operator token').fill(token);
    await p.getByRole('button', { name: 'Sign in' }).click();
  };
  const statusText = () => page.locator('#status').textContent();

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    const env: Record<string, string> = {
      PORT: '0',
      LOCALNET_SLOT_MS: '50',
      GATEWAY_API_KEYS: 'gw:gw',
      OPERATOR_TOKEN: 'op',
      WORKER: 'off',
      SYNC_WINDOW_MS: '100',
      LOCALNET_LEDGER_DIR: join(mkdtempSync(join(tmpdir(), 'console-ledger-')), 'ledger'),
    };
    if (await postgresAvailable().catch(() => false)) {
      t = await freshPostgres();
      env.DATABASE_URL = t.url!;
      await t.database.close();
    } else {
      env.PGLITE_DIR = join(mkdtempSync(join(tmpdir(), 'console-')), 'pglite');
    }
    const log = makeLog('silent', new Writable({ write: (_c, _e, cb) => cb() }));
    svc = await startService(loadConfig(env), log);
    base = svc.apiUrl!;
    // 100,000 readings in one set-based statement (not the API): half minted, half recorded, two hours ago.
    const wallet = Keypair.generate().publicKey.toBase58();
    await svc.database.db.execute(sql`
      insert into readings (id, meter_id, user_id, wallet_address, kwh_amount, tokens_to_mint, reading_timestamp, gateway_id, status, created_at, updated_at)
      select gen_random_uuid(), 'seed-' || (i % 100), 'seed-owner', ${wallet}, 1, 1000000000, timestamptz '2025-01-01T00:00:00Z' + i * interval '1 minute', 'gw',
             case when i % 2 = 0 then 'completed' else 'recorded' end,
             now() - interval '2 hours' + i * interval '1 millisecond', now() - interval '2 hours'
      from generate_series(1, ${SEEDED}) as i`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await ctx.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await svc?.stop();
    await t?.drop();
  });

  it('signs in with the operator token and lands on the overview', async () => {
    await signIn(page);
    await page.waitForURL(`${base}/console`);
    await page.locator('#count-completed').waitFor();
    await shot('sign-in-overview');
    const cookies = await ctx.cookies();
    expect(cookies.find((c) => c.name === 'ets_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
  });

  it("shows the overview's counts exactly as the API gives them", async () => {
    const counts = ((await (await api('/queue/status')).json()) as { counts: Record<string, number> }).counts;
    await page.goto(`${base}/console`);
    for (const [status, n] of Object.entries(counts)) expect([status, await page.locator(`#count-${status}`).getAttribute('data-count')]).toEqual([status, String(n)]);
    expect(await page.locator('#count-completed').getAttribute('data-count')).toBe(String(SEEDED / 2));
    await shot('overview-counts');
  });

  it('at 375 px the readings page pages, filters, and is navigable by Tab alone', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    try {
      await page.goto(`${base}/console/readings`);
      const firstPage = await page.locator('tbody tr td:first-child').allTextContents();
      expect(firstPage).toHaveLength(50);
      // Tab from the top of the page to the "Next page" link, then Enter: no mouse.
      await page.locator('body').focus();
      let reached = false;
      for (let i = 0; i < 250 && !reached; i++) {
        await page.keyboard.press('Tab');
        reached = await page.evaluate(() => document.activeElement?.textContent === 'Next page');
      }
      expect(reached).toBe(true);
      await page.keyboard.press('Enter');
      await page.waitForURL(/cursor=/);
      const second = await page.locator('tbody tr td:first-child').allTextContents();
      expect(second).toHaveLength(50);
      expect(second.filter((id) => firstPage.includes(id))).toEqual([]);
      // Filter by keyboard: Tab to the status select, choose `recorded`, submit with Enter.
      await page.goto(`${base}/console/readings`);
      await page.locator('body').focus();
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(() => (document.activeElement as HTMLSelectElement | null)?.name === 'status')) break;
      }
      await page.keyboard.press('ArrowDown'); // any → pending
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown'); // → recorded
      expect(await page.locator('select[name=status]').inputValue()).toBe('recorded');
      // On to the Search button (past the two time fields) and press it.
      for (let i = 0; i < 10; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(() => document.activeElement?.textContent === 'Search')) break;
      }
      await page.keyboard.press('Enter');
      await page.waitForURL(/status=recorded/);
      const statuses = await page.locator('tbody .pill').allTextContents();
      expect(statuses).toHaveLength(50);
      expect(new Set(statuses)).toEqual(new Set(['recorded']));
      await page.getByLabel('Meter').fill('seed-7');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForURL(/meter=seed-7/);
      expect(new Set(await page.locator('tbody tr td:nth-child(2)').allTextContents())).toEqual(new Set(['seed-7']));
      await shot('readings-375-filtered');
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width).toBeLessThanOrEqual(375);
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  it('registers a meter in the console, takes its readings through the API, and streams their batch to completion', async () => {
    await page.goto(`${base}/console/meters`);
    const form = page.locator('#meter-form');
    await form.getByLabel('Meter id').fill('browser-m1');
    await form.getByLabel('Gateway').selectOption('gw');
    await form.getByLabel('Kind').selectOption('interval');
    await form.getByLabel('Interval minutes (interval meters)').fill('15');
    await form.getByLabel('Owner (user id)').fill('browser-owner');
    await form.getByLabel('Wallet').fill(Keypair.generate().publicKey.toBase58());
    await form.getByLabel('max kW').fill('10');
    await form.getByLabel('Active from (ISO)').fill('2026-01-01T00:00:00Z');
    // The page reloads once the answer is shown (the list then has the meter).
    const reloaded = page.waitForEvent('load');
    await form.getByRole('button', { name: 'Save meter' }).click();
    await waitFor(async () => (await statusText()) === 'Meter saved.', 10_000, 'the meter to be saved');
    await reloaded;
    expect(await page.getByRole('link', { name: 'browser-m1' }).isVisible()).toBe(true);
    expect((await api('/meters/browser-m1')).status).toBe(200);
    // A change: only the fields given (the kind of a meter is fixed, and is left alone).
    await form.getByLabel('Meter id').fill('browser-m1');
    for (const label of ['Owner (user id)', 'Wallet', 'Active from (ISO)', 'Interval minutes (interval meters)']) await form.getByLabel(label).fill('');
    await form.getByLabel('Gateway').selectOption('');
    await form.getByLabel('Kind').selectOption('');
    await form.getByLabel('max kW').fill('12');
    await form.getByRole('button', { name: 'Save meter' }).click();
    await waitFor(async () => (await statusText()) === 'Meter saved.', 10_000, 'the meter to be changed');
    expect(await (await api('/meters/browser-m1')).json()).toMatchObject({ max_kw: '12', kind: 'interval', user_id: 'browser-owner' });
    const posted = await fetch(`${base}/readings`, {
      method: 'POST',
      headers: { authorization: 'Bearer gw', 'content-type': 'application/json' },
      body: JSON.stringify({ readings: [1, 2].map((q) => ({ meter_id: 'browser-m1', reading_timestamp: new Date(Date.UTC(2026, 5, 1, 0, 15 * q)).toISOString(), kwh_amount: '1.5' })) }),
    });
    expect(posted.status).toBe(202);
    await page.goto(`${base}/console/batches`);
    await page.getByRole('button', { name: 'Mint the pending queue now' }).click();
    await page.waitForURL(/\/console\/batches\/[0-9a-f-]{36}$/);
    await page.locator('#batch-state[data-state=completed]').waitFor({ timeout: 60_000 });
    expect(await page.locator('#batch-live tbody tr').count()).toBe(2);
    expect(await page.locator('#batch-state').textContent()).toContain('2 minted, 0 failed of 2');
    await page.locator('#batch-txs tbody tr').first().waitFor();
    expect(await page.locator('#batch-cancel').count()).toBe(0);
    await shot('batch-streamed');
    // A result's reading, with its history from what is stored: the transaction that carried it, its batch.
    await page.locator('#batch-live tbody a').first().click();
    await page.waitForURL(/\/console\/readings\/[0-9a-f-]{36}$/);
    expect(await page.getByRole('heading', { name: 'Transactions that carried it' }).isVisible()).toBe(true);
    expect(await page.locator('table .pill.confirmed').count()).toBe(1);
    await shot('reading-history');
    await page.goto(`${base}/console`);
    expect(await page.locator('#count-completed').getAttribute('data-count')).toBe(String(SEEDED / 2 + 2));
    await page.locator('#chart canvas').waitFor();
    await shot('overview-after-batch');
  });

  it('shows a reading posted through the API on the Readings page without a reload, and keeps what is typed', async () => {
    await page.goto(`${base}/console/readings?meter=browser-m1`);
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const before = await page.locator('#readings-live tbody tr').count();
    // Typing in the search form is not disturbed by the refreshes (the form is outside the live part).
    await page.getByLabel('Wallet').fill('typed, not submitted');
    const posted = await fetch(`${base}/readings`, {
      method: 'POST',
      headers: { authorization: 'Bearer gw', 'content-type': 'application/json' },
      body: JSON.stringify({ readings: [{ meter_id: 'browser-m1', reading_timestamp: '2026-06-01T01:00:00.000Z', kwh_amount: '1.25' }] }),
    });
    expect(posted.status).toBe(202);
    await waitFor(async () => (await page.locator('#readings-live tbody tr').count()) === before + 1, 15_000, 'the new reading to appear on the page');
    expect(await page.locator('#readings-live tbody tr').first().textContent()).toContain('1.25');
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(await page.getByLabel('Wallet').inputValue()).toBe('typed, not submitted');
    await shot('readings-live');
    // Keyboard-safe: while focus is on a link inside the live part, its polls are skipped (the node keeps focus);
    // once focus leaves, the next poll shows what arrived meanwhile.
    await page.locator('#readings-live tbody a').first().focus();
    await page.evaluate(() => {
      const w = window as unknown as { polls: number; focused: Element | null };
      w.polls = 0;
      w.focused = document.activeElement;
      document.getElementById('readings-live')!.addEventListener('htmx:confirm', () => (w.polls += 1));
    });
    const more = await fetch(`${base}/readings`, {
      method: 'POST',
      headers: { authorization: 'Bearer gw', 'content-type': 'application/json' },
      body: JSON.stringify({ readings: [{ meter_id: 'browser-m1', reading_timestamp: '2026-06-01T01:15:00.000Z', kwh_amount: '0.5' }] }),
    });
    expect(more.status).toBe(202);
    await waitFor(async () => (await page.evaluate(() => (window as unknown as { polls: number }).polls)) >= 2, 15_000, 'two polls while focused');
    expect(await page.evaluate(() => { const w = window as unknown as { focused: Element | null }; return w.focused === document.activeElement && !!w.focused?.isConnected; })).toBe(true);
    expect(await page.locator('#readings-live tbody tr').count()).toBe(before + 1);
    await page.getByLabel('Wallet').focus();
    await waitFor(async () => (await page.locator('#readings-live tbody tr').count()) === before + 2, 15_000, 'the reading that came while focused');
  });

  it('imports meters from a CSV file all or nothing, naming every bad line', async () => {
    await page.goto(`${base}/console/meters`);
    const wallet = Keypair.generate().publicKey.toBase58();
    const line = (id: string, maxKw: string, w = wallet) => `${id},gw,o,${w},interval,15,${maxKw},2026-01-01T00:00:00Z`;
    const text = ['meter_id,gateway_id,user_id,wallet_address,kind,interval_minutes,max_kw,active_from', line('csv2-1', '10'), line('csv2-2', '-5'), line('csv2-3', '10'), line('csv2-4', '10', 'not-a-wallet'), ''].join('\n');
    await page.getByLabel('CSV file').setInputFiles({ name: 'meters.csv', mimeType: 'text/csv', buffer: Buffer.from(text) });
    await page.getByRole('button', { name: 'Import' }).click();
    await waitFor(async () => /line 5/.test((await statusText()) ?? ''), 10_000, 'the import errors');
    const said = (await statusText())!;
    expect(said).toContain('2 lines refused, nothing imported');
    expect(said).toContain('line 3, column max_kw');
    expect(said).toContain('line 5, column wallet_address');
    expect(said).not.toContain('line 2');
    expect(said).not.toContain('line 4');
    await shot('csv-import-two-bad-lines');
    for (const id of ['csv2-1', 'csv2-2', 'csv2-3', 'csv2-4']) expect([id, (await api(`/meters/${id}`)).status]).toEqual([id, 404]);
  });

  it('imports meters from a CSV file all or nothing, naming the line of an error', async () => {
    await page.goto(`${base}/console/meters`);
    const wallet = Keypair.generate().publicKey.toBase58();
    const csv = (maxKw: string) =>
      `meter_id,gateway_id,user_id,wallet_address,kind,interval_minutes,max_kw,active_from\ncsv-1,gw,o1,${wallet},interval,15,10,2026-01-01T00:00:00Z\ncsv-2,gw,o2,${wallet},interval,15,${maxKw},2026-01-01T00:00:00Z\n`;
    const importFile = async (text: string) => {
      await page.getByLabel('CSV file').setInputFiles({ name: 'meters.csv', mimeType: 'text/csv', buffer: Buffer.from(text) });
      await page.getByRole('button', { name: 'Import' }).click();
    };
    await importFile(csv('-5'));
    await waitFor(async () => /line 3/.test((await statusText()) ?? ''), 10_000, 'the import error');
    expect(await statusText()).toContain('max_kw');
    await shot('csv-import-refused');
    expect((await api('/meters/csv-1')).status).toBe(404);
    await importFile(csv('12'));
    await waitFor(async () => (await statusText()) === '2 meter(s) imported.', 10_000, 'the import');
    expect((await api('/meters/csv-2')).status).toBe(200);
  });

  it('voids a wrong reading from the dead-letter page, with the reason recorded', async () => {
    await svc.database.db.execute(sql`
      insert into readings (id, meter_id, user_id, wallet_address, kwh_amount, tokens_to_mint, reading_timestamp, gateway_id, status, attempts, last_error)
      values (gen_random_uuid(), 'browser-wrong', 'o', ${Keypair.generate().publicKey.toBase58()}, 1, 1000000000, now(), 'gw', 'failed', 5, 'test: implausible')`);
    const [{ id }] = (await svc.database.db.select({ id: readings.id }).from(readings).where(eq(readings.meterId, 'browser-wrong'))) as [{ id: string }];
    await page.goto(`${base}/console/failed`);
    const row = page.locator('tr', { has: page.getByRole('link', { name: id.slice(0, 8) }) });
    await row.getByLabel('Reason').fill('meter on the test bench');
    await row.getByRole('button', { name: `Void reading ${id.slice(0, 8)}` }).click();
    await waitFor(async () => (await statusText()) === 'Voided.', 10_000, 'the void to be answered');
    expect(await (await api(`/readings/${id}`)).json()).toMatchObject({ status: 'voided' });
    await page.goto(`${base}/console/readings/${id}`);
    expect(await page.locator('main').textContent()).toContain('by operator');
    expect(await page.locator('main').textContent()).toContain('meter on the test bench');
  });

  it('retries a failed reading from the dead-letter page', async () => {
    await svc.database.db.execute(sql`
      insert into readings (id, meter_id, user_id, wallet_address, kwh_amount, tokens_to_mint, reading_timestamp, gateway_id, status, attempts, last_error)
      values (gen_random_uuid(), 'browser-failed', 'o', ${Keypair.generate().publicKey.toBase58()}, 1, 1000000000, now(), 'gw', 'failed', 5, 'test: the RPC refused it')`);
    const [{ id }] = (await svc.database.db.select({ id: readings.id }).from(readings).where(eq(readings.meterId, 'browser-failed'))) as [{ id: string }];
    await page.goto(`${base}/console/failed`);
    expect(await page.getByRole('cell', { name: 'test: the RPC refused it' }).first().isVisible()).toBe(true);
    await page.getByRole('button', { name: `Retry reading ${id.slice(0, 8)}` }).click();
    await waitFor(async () => (await statusText()) === 'Put back in the queue.', 10_000, 'the retry to be answered');
    await shot('dead-letter-retried');
    const reading = (await (await api(`/readings/${id}`)).json()) as { status: string; attempts: number };
    expect(reading).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('retries every failed reading that matches a filter, and only those', async () => {
    const wallet = Keypair.generate().publicKey.toBase58();
    await svc.database.db.execute(sql`
      insert into readings (id, meter_id, user_id, wallet_address, kwh_amount, tokens_to_mint, reading_timestamp, gateway_id, status, attempts, last_error)
      select gen_random_uuid(), m, 'o', ${wallet}, 1, 1000000000, now() - i * interval '1 minute', 'gw', 'failed', 5, 'test: fixed cause'
      from (values ('browser-filter', 1), ('browser-filter', 2), ('browser-filter-other', 3)) as v(m, i)`);
    await page.goto(`${base}/console/failed`);
    const form = page.locator('form', { has: page.getByRole('button', { name: 'Retry the matching failed readings' }) });
    await form.getByLabel('Meter').fill('browser-filter');
    await form.getByRole('button', { name: 'Retry the matching failed readings' }).click();
    await waitFor(async () => (await statusText()) === '2 reading(s) put back in the queue.', 10_000, 'the retry by filter to be answered');
    await shot('retry-by-filter');
    const statusOf = async (meter: string) =>
      (await svc.database.db.select({ status: readings.status }).from(readings).where(eq(readings.meterId, meter))).map((r) => r.status).sort();
    expect(await statusOf('browser-filter')).toEqual(['pending', 'pending']);
    expect(await statusOf('browser-filter-other')).toEqual(['failed']);
  });

  it('pauses and resumes minting from the settings page', async () => {
    await page.goto(`${base}/console/settings`);
    await page.getByLabel('Reason').fill('provider maintenance');
    await page.getByRole('button', { name: 'Pause minting' }).click();
    await page.getByRole('button', { name: 'Resume minting' }).waitFor();
    expect(await page.locator('#minting-state').textContent()).toContain('provider maintenance');
    expect(await (await api('/minting')).json()).toMatchObject({ paused: true, reason: 'provider maintenance', paused_by: 'operator' });
    expect((await api('/mint-batch', { method: 'POST', body: '{}' })).status).toBe(409);
    await shot('paused');
    await page.getByRole('button', { name: 'Resume minting' }).click();
    await page.getByRole('button', { name: 'Pause minting' }).waitFor();
    expect(await (await api('/minting')).json()).toMatchObject({ paused: false });
  });

  it('creates a gateway, shows its key once with a copy button, and the key works', async () => {
    await page.goto(`${base}/console/gateways`);
    await page.getByLabel('Gateway id').fill('browser-gw');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.locator('#shown-key:not([hidden])').waitFor();
    const key = (await page.locator('#key-text').textContent())!;
    expect(key).toMatch(/^egk_/);
    expect(await page.getByRole('button', { name: 'Copy key' }).isVisible()).toBe(true);
    // The new gateway is in the list without a reload, while the key stays shown.
    await page.locator('#gateways-live tr[data-gateway="browser-gw"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#shown-key').isVisible()).toBe(true);
    expect(await page.locator('#key-text').textContent()).toBe(key);
    await shot('gateway-key-shown');
    const asGateway = await fetch(`${base}/meters`, { headers: { authorization: `Bearer ${key}` } });
    expect(asGateway.status).toBe(200);
    await page.reload();
    expect(await page.locator('#shown-key').isHidden()).toBe(true);
  });

  it('rotates and disables a gateway; one made elsewhere appears without a reload', async () => {
    await page.goto(`${base}/console/gateways`);
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const made = (await (await api('/gateways', { method: 'POST', body: JSON.stringify({ gateway_id: 'browser-gw2' }) })).json()) as { api_key: string };
    const row = page.locator('#gateways-live tr[data-gateway="browser-gw2"]');
    await row.waitFor({ timeout: 15_000 });
    const meters = (key: string) => fetch(`${base}/meters`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);
    await row.getByRole('button', { name: 'Rotate the key of browser-gw2' }).click();
    await waitFor(async () => (await statusText()) === 'New key made; the old one works for 24 hours.', 10_000, 'the rotation');
    const rotated = (await page.locator('#key-text').textContent())!;
    expect(rotated).toMatch(/^egk_/);
    expect(rotated).not.toBe(made.api_key);
    expect(await meters(rotated)).toBe(200);
    expect(await meters(made.api_key)).toBe(200); // still inside its grace period
    await waitFor(async () => (await row.locator('td').nth(3).textContent()) === '2', 10_000, 'the key count to show the new key');
    await shot('gateway-rotated');
    page.once('dialog', (dlg) => void dlg.accept());
    await row.getByRole('button', { name: 'Disable browser-gw2' }).click();
    await waitFor(async () => (await statusText()) === 'Gateway browser-gw2 disabled: its keys no longer work.', 10_000, 'the disable');
    await waitFor(async () => (await row.locator('td').nth(4).textContent()) === 'disabled', 10_000, 'the row to say disabled');
    expect(await row.getByRole('button').count()).toBe(0);
    expect([401, 403]).toContain(await meters(rotated));
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await shot('gateway-disabled');
  });

  it('refuses a change without the CSRF token', async () => {
    const answer = await page.evaluate(async () => {
      const r = await fetch('/minting/pause', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'no token' }) });
      return { status: r.status, body: await r.json() };
    });
    expect(answer).toMatchObject({ status: 403, body: { error: { code: 'CSRF_REFUSED' } } });
    expect(await (await api('/minting')).json()).toMatchObject({ paused: false });
    await shot('csrf-refused');
  });

  it('refuses a wrong token and an expired session', async () => {
    const other = await browser.newContext();
    const p = await other.newPage();
    await signIn(p, 'not-a-token');
    expect(await p.getByRole('alert').textContent()).toContain('not an operator token');
    expect((await other.cookies()).find((c) => c.name === 'ets_session')).toBeUndefined();
    await p.screenshot({ path: join(OUT, 'wrong-token.png'), fullPage: true });
    await other.close();

    await svc.database.db.execute(sql`update console_sessions set expires_at = now() - interval '1 second'`);
    await page.goto(`${base}/console/meters`);
    await page.waitForURL(/\/console\/login\?expired=1$/);
    expect(await page.getByRole('alert').textContent()).toContain('expired');
    await shot('session-expired');
  });
});
