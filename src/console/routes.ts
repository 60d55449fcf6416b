// The operator console at /console: sign-in with an operator token, then a session cookie (HttpOnly,
// SameSite=Strict) stored in Postgres; server-rendered pages, live over htmx polling and the batch event
// stream; every change goes to the JSON API with the session's CSRF token. /docs renders /openapi.json.
// Assets come from node_modules (htmx, uPlot, Swagger UI) and src/console/assets: no CDN, no build step.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Context, Hono, type Next } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { html, raw } from 'hono/html';
import type { Db } from '../db/client.js';
import { READING_STATUSES, type ReadingStatus } from '../db/schema.js';
import { AppError, CsrfRefused, NotFound, ValidationError } from '../errors.js';
import type { HealthDetails } from '../http/app.js';
import { type Auth, checkCsrf, SESSION_COOKIE } from '../http/auth.js';
import { clientOf, isSameOrigin } from '../http/client.js';
import { formBody, pageCursor, uuidParam } from '../http/input.js';
import { boundedText, instantField, MAX_ID_CHARS, quote } from '../fields.js';
import { readingCursor } from '../readings/routes.js';
import type { Log } from '../log.js';
import { hashKey } from '../meters/gateways.js';
import { kwhText } from '../meters/registry.js';
import { getMeter, listGateways, meterTotals } from '../meters/repo.js';
import { batchReadings, getBatch, mintingPause, queueStats, readSettings, recentBatches, type Settings } from '../minting/repo.js';
import { getReading, type ReadingRow } from '../readings/repo.js';
import { page, when, type Html } from './layout.js';
import { batchTransactions, createSession, failedByError, liveSession, mintedPerMinute, otherStatusCounts, readingHistory, revokeSession, searchMeters, searchReadings, transactionsInFlight } from './repo.js';

export interface ConsoleDeps {
  db: Db;
  auth: Auth;
  sessionHours: number;
  defaults: Settings;
  /** What /health/details shows (fee payer, rent budget, worker, program, mint). */
  healthDetails: () => HealthDetails | Promise<HealthDetails>;
  chain: { genesisHash: string; database: string };
  log?: Log;
}

const PAGE = 50;
const require = createRequire(import.meta.url);
/** A file of an installed package (its package.json may not export it, so the directory is found from its main entry). */
const packageFile = (pkg: string, entry: string, file: string) => join(dirname(require.resolve(`${pkg}/${entry}`)), file);
// Maps, not object literals: a path segment (`constructor`, `__proto__`, `toString`) must never find an
// Object.prototype member as an asset (it was read as a file path: a 500 logging the server's directories).
const ASSETS = new Map<string, { path: string; type: string }>([
  ['htmx.min.js', { path: packageFile('htmx.org', 'dist/htmx.min.js', 'htmx.min.js'), type: 'text/javascript' }],
  ['uPlot.iife.min.js', { path: packageFile('uplot', 'dist/uPlot.iife.min.js', 'uPlot.iife.min.js'), type: 'text/javascript' }],
  ['uPlot.min.css', { path: packageFile('uplot', 'dist/uPlot.iife.min.js', 'uPlot.min.css'), type: 'text/css' }],
  ['console.js', { path: fileURLToPath(new URL('./assets/console.js', import.meta.url)), type: 'text/javascript' }],
  ['console.css', { path: fileURLToPath(new URL('./assets/console.css', import.meta.url)), type: 'text/css' }],
]);
const SWAGGER = dirname(require.resolve('swagger-ui-dist/swagger-ui-bundle.js'));
const DOCS_ASSETS = new Map<string, string>([
  ['swagger-ui-bundle.js', 'text/javascript'],
  ['swagger-ui.css', 'text/css'],
]);

const meterCursor = pageCursor<string>((id) => (typeof id === 'string' && id.length <= MAX_ID_CHARS ? id : null));

interface Session {
  operator: string;
  csrf: string;
}
const sessionOf = (c: Context) => c.get('consoleSession' as never) as Session;

const pill = (status: string) => html`<span class="pill ${status}">${status}</span>`;
/** A search field: trimmed, empty as absent, at most MAX_ID_CHARS of storable text. */
const optional = (v: string | undefined, field: string) => (v === undefined || v.trim() === '' ? undefined : boundedText(v.trim(), field, MAX_ID_CHARS));
// The form's datetime-local has no zone: it is UTC, as the label says. Same rules as the API's instants.
const dateOf = (v: string | undefined, field: string) => (v ? instantField(v, field, { zonelessIsUtc: true }) : undefined);
/**
 * A live part of a page: its partial is fetched again every 3 s (and at once after a change made on the page).
 * console.js skips a poll while focus is inside it or one of its fields has been edited, so a refresh never
 * takes focus from the keyboard nor what someone is typing.
 */
const live = (id: string, url: string, body: Html) => html`<div id="${id}" data-live data-refresh hx-get="${url}" hx-trigger="every 3s, refresh" hx-swap="innerHTML">${body}</div>`;
const lamportsText = (l: string | null) => (l === null ? 'unknown (RPC away)' : `${(Number(l) / 1e9).toLocaleString('en', { maximumFractionDigits: 4 })} SOL`);

export function consoleRoutes(d: ConsoleDeps): Hono {
  const app = new Hono();
  const assetCache = new Map<string, string>();
  const asset = (path: string) => {
    let body = assetCache.get(path);
    if (body === undefined) assetCache.set(path, (body = readFileSync(path, 'utf8')));
    return body;
  };

  app.get('/console/assets/:name', (c) => {
    const a = ASSETS.get(c.req.param('name'));
    if (!a) throw new NotFound(`asset ${quote(c.req.param('name'))}`);
    return c.body(asset(a.path), 200, { 'content-type': `${a.type}; charset=utf-8`, 'cache-control': 'public, max-age=3600' });
  });
  app.get('/docs/assets/:name', (c) => {
    const type = DOCS_ASSETS.get(c.req.param('name'));
    if (!type) throw new NotFound(`asset ${quote(c.req.param('name'))}`);
    return c.body(asset(join(SWAGGER, c.req.param('name'))), 200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'public, max-age=3600' });
  });
  app.get('/docs', (c) =>
    c.html(html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>API reference · energy-token-minter</title><link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><p style="font:14px system-ui;margin:8px 16px"><a href="/console">← Console</a></p><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui' });</script></body></html>`),
  );

  // ---- sign-in -------------------------------------------------------------------------------------
  const loginPage = (message: string | null, status: 200 | 401 | 403, c: Context) =>
    c.html(
      page({
        title: 'Sign in',
        path: '/console/login',
        body: html`${message ? html`<p class="card" role="alert">${message}</p>` : ''}
<form method="post" action="/console/login" class="grid" style="max-width:520px">
<label>Operator token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
</form>
<p>The token is one of <code>OPERATOR_TOKEN</code> / <code>OPERATOR_TOKENS</code> (in embedded mode with no credentials set: <code>dev-operator-token</code>).</p>`,
      }),
      status,
    );
  app.get('/console/login', (c) => loginPage(c.req.query('expired') ? 'Your session expired or was signed out: sign in again.' : null, 200, c));
  app.post('/console/login', async (c) => {
    // Login CSRF: a sign-in from another site's form is refused (SameSite does not cover a top-level POST's origin).
    // Scheme, host and port compared; a malformed Origin (`garbage`, `http://`) is another origin (it was a 500).
    const origin = c.req.header('origin');
    if (origin !== undefined && !isSameOrigin(c, origin)) {
      d.log?.warn({ client: clientOf(c).address }, 'console sign-in from another origin refused');
      return loginPage('Sign in from the console itself.', 403, c);
    }
    const form = await formBody(c.req);
    const token = typeof form.token === 'string' ? form.token : '';
    const p = token && token.length <= 500 ? await d.auth.principalOf(token) : null;
    if (!p || p.role !== 'operator') {
      d.log?.warn({ client: clientOf(c).address }, 'console sign-in refused');
      return loginPage('That is not an operator token.', 401, c);
    }
    const value = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    const expires = await createSession(d.db, { sessionHash: hashKey(value), operator: p.name, csrfToken: csrf, hours: d.sessionHours });
    setCookie(c, SESSION_COOKIE, value, { httpOnly: true, sameSite: 'Strict', path: '/', secure: clientOf(c).protocol === 'https:', expires });
    d.log?.info({ operator: p.name, client: clientOf(c).address }, 'console session started');
    return c.redirect('/console', 303);
  });

  // Every other console page needs a live session; the JSON API takes the same cookie (http/auth.ts).
  const needSession = async (c: Context, next: Next) => {
    const cookie = getCookie(c, SESSION_COOKIE);
    const s = cookie && cookie.length <= 200 ? await liveSession(d.db, hashKey(cookie)) : null;
    if (!s) {
      if (c.req.header('hx-request')) return c.text('session ended', 401, { 'hx-redirect': '/console/login?expired=1' });
      return c.redirect(cookie ? '/console/login?expired=1' : '/console/login', 302);
    }
    if (!['GET', 'HEAD'].includes(c.req.method)) await checkCsrf(c, s.csrfToken);
    c.set('consoleSession' as never, { operator: s.operator, csrf: s.csrfToken } as never);
    await next();
  };
  app.use('/console', needSession);
  app.use('/console/*', async (c, next) => (c.req.path === '/console/login' || c.req.path.startsWith('/console/assets/') ? next() : needSession(c, next)));

  app.post('/console/logout', async (c) => {
    const cookie = getCookie(c, SESSION_COOKIE)!;
    await revokeSession(d.db, hashKey(cookie));
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/console/login', 303);
  });

  const render = (c: Context, title: string, path: string, body: Html, chart = false) => {
    const s = sessionOf(c);
    return c.html(page({ title, path, operator: s.operator, csrf: s.csrf, body, chart }));
  };

  // ---- overview ------------------------------------------------------------------------------------
  const overview = async () => {
    const [stats, details, inFlight, perMinute, pause] = await Promise.all([queueStats(d.db), d.healthDetails(), transactionsInFlight(d.db), mintedPerMinute(d.db), mintingPause(d.db)]);
    const counts = stats.counts as Record<string, number>;
    const statusCounts: Record<string, number> = { ...counts, ...(await otherStatusCounts(d.db)) };
    const worker = details.worker;
    const workerText = pause
      ? `paused by ${pause.by}: ${pause.reason}`
      : !worker
        ? 'not in this process (WORKER=off or an API-only process)'
        : worker.paused
          ? `paused: ${worker.reason ?? ''}`
          : worker.running
            ? 'running'
            : 'stopped';
    const now = Math.floor(Date.now() / 60_000) * 60;
    const points = Array.from({ length: 60 }, (_, i) => {
      const t = now - (59 - i) * 60;
      return [t, perMinute.find((p) => Math.floor(p.minute.getTime() / 1000) === t)?.count ?? 0];
    });
    return html`<div class="cards">
${READING_STATUSES.map((st) => html`<div class="card"><h2>${st}</h2><div class="big" id="count-${st}" data-count="${statusCounts[st] ?? 0}">${(statusCounts[st] ?? 0).toLocaleString('en')}</div>${st === 'pending' ? html`<div>oldest: ${when(stats.oldestPending)}</div>` : ''}</div>`)}
<div class="card"><h2>Transactions in flight</h2><div class="big" id="tx-in-flight">${inFlight}</div></div>
<div class="card"><h2>Worker</h2><div id="worker-state">${workerText}</div>${details.fee_payer.below_floor ? html`<div role="alert">Fee payer below MIN_FEE_PAYER_LAMPORTS</div>` : ''}${details.rec_validator?.registered === false ? html`<div role="alert">REC validator ${details.rec_validator.address} is not registered: minting waits</div>` : ''}</div>
<div class="card"><h2>Fee payer</h2><div class="big">${lamportsText(details.fee_payer.lamports)}</div><div class="mono">${details.fee_payer.address}</div></div>
<div class="card"><h2>Rent budget today</h2><div class="big">${details.rent_budget.new_token_accounts_left_today ?? '?'}</div><div>new token accounts left of ${details.rent_budget.per_day}</div></div>${details.rent_budget.mint_records ? html`<div class="card"><h2>Mint-record rent today</h2><div class="big">${details.rent_budget.mint_records.rent_lamports_today ?? '?'} lamports</div><div>${details.rent_budget.mint_records.reserved_today ?? '?'} window records of ${details.rent_budget.mint_records.per_day} a day (1,183,200 lamports each, never returned)</div></div>` : ''}
<div class="card"><h2>Fee budget today</h2><div class="big">${lamportsText(details.fee_budget.lamports_left_today)}</div><div>left of ${lamportsText(details.fee_budget.per_day)}</div></div>
<div class="card"><h2>Chain</h2><div>RPC: ${details.rpc.url} (${details.rpc.status})</div><div>genesis <span class="mono">${d.chain.genesisHash}</span></div><div>program <span class="mono">${details.program.id}</span></div><div>mint <span class="mono">${details.mint.address}</span></div></div>
<div class="card"><h2>Database</h2><div>${d.chain.database} (${details.db.status})</div></div>
</div>
<h2>Readings minted per minute, last hour</h2>
<script type="application/json" id="mpm-data">${raw(JSON.stringify(points))}</script>
<div id="chart" role="img" aria-label="Readings minted per minute over the last hour: ${points.reduce((a, p) => a + p[1]!, 0)} in all"></div>`;
  };
  app.get('/console', async (c) =>
    render(c, 'Overview', '/console', html`<div id="overview" hx-get="/console/fragments/overview" hx-trigger="every 3s" hx-swap="innerHTML">${await overview()}</div>`, true),
  );
  app.get('/console/fragments/overview', async (c) => c.html(await overview()));

  // ---- batches -------------------------------------------------------------------------------------
  const batchTable = async () => {
    const rows = await recentBatches(d.db, 50);
    return html`<div class="table"><table><caption class="hide-narrow" style="text-align:left;padding:6px">Newest 50 batches</caption>
<thead><tr><th>Batch</th><th>State</th><th>Readings</th><th>Minted</th><th>Failed</th><th class="hide-narrow">Source</th><th class="hide-narrow">Started</th></tr></thead>
<tbody>${rows.map((b) => html`<tr><td class="mono"><a href="/console/batches/${b.id}">${b.id.slice(0, 8)}</a></td><td>${pill(b.state)}</td><td>${b.totalReadings}</td><td>${b.successfulMints}</td><td>${b.failedMints}</td><td class="hide-narrow">${b.source}${b.requestedBy ? ` (${b.requestedBy})` : ''}</td><td class="hide-narrow">${when(b.createdAt)}</td></tr>`)}</tbody></table></div>`;
  };
  app.get('/console/batches', async (c) =>
    render(
      c,
      'Batches',
      '/console/batches',
      html`<form data-api="/mint-batch" data-method="POST" data-body='{"prefer_async":true}' data-after="/console/batches/{id}" class="inline"><button type="submit">Mint the pending queue now</button></form>
<div id="batches" hx-get="/console/fragments/batches" hx-trigger="every 3s">${await batchTable()}</div>`,
    ),
  );
  app.get('/console/fragments/batches', async (c) => c.html(await batchTable()));
  app.get('/console/batches/:id', async (c) => {
    const id = uuidParam(c.req.param('id'));
    const b = await getBatch(d.db, id);
    if (!b) throw new NotFound(`batch ${id}`);
    const readingsOf = await batchReadings(d.db, b.id);
    return render(
      c,
      `Batch ${b.id.slice(0, 8)}`,
      '/console/batches',
      html`<p><span class="mono">${b.id}</span> · ${b.source}${b.requestedBy ? ` by ${b.requestedBy}` : ''} · started ${when(b.createdAt)}</p>
<p>State: <strong id="batch-state" data-state="${b.state}">${b.state}</strong> · results so far: <span id="batch-results">0</span> of ${readingsOf.length || b.totalReadings}</p>
${['pending', 'running'].includes(b.state) ? html`<form id="batch-cancel" data-api="/batches/${b.id}/cancel" data-method="POST" data-done="Cancel asked: readings not yet signed go back to the queue." class="inline"><button type="submit" class="danger">Cancel this batch</button></form>` : ''}
<h2>Results, as they land</h2>
<div class="table"><table id="batch-live" data-batch="${b.id}"><thead><tr><th>Reading</th><th>Result</th><th>Signature</th><th>Error</th></tr></thead><tbody></tbody></table></div>
<h2>Transactions</h2>
<div id="batch-txs" hx-get="/console/fragments/batches/${b.id}/transactions" hx-trigger="every 2s, batch-done">${await transactionTable(b.id)}</div>`,
    );
  });
  const transactionTable = async (batchId: string) => {
    const txs = await batchTransactions(d.db, batchId);
    return html`<div class="table"><table><thead><tr><th>Signature</th><th>Status</th><th>Readings</th><th>Error</th></tr></thead>
<tbody>${txs.map((t) => html`<tr><td class="mono">${t.signature}</td><td>${pill(t.status)}</td><td>${t.readings}</td><td>${t.error ?? ''}</td></tr>`)}</tbody></table></div>`;
  };
  app.get('/console/fragments/batches/:id/transactions', async (c) => {
    return c.html(await transactionTable(uuidParam(c.req.param('id'))));
  });

  // ---- readings ------------------------------------------------------------------------------------
  const readingRows = (rows: ReadingRow[], actions = false) =>
    html`<div class="table"><table><thead><tr><th>Reading</th><th>Meter</th><th class="hide-narrow">Time</th><th>kWh</th><th>Status</th><th class="hide-narrow">Gateway</th><th class="hide-narrow">Error</th>${actions ? html`<th>Actions</th>` : ''}</tr></thead>
<tbody>${rows.map(
      (r) => html`<tr><td class="mono"><a href="/console/readings/${r.id}">${r.id.slice(0, 8)}</a></td><td><a href="/console/meters/${encodeURIComponent(r.meterId)}">${r.meterId}</a></td><td class="hide-narrow">${when(r.readingTimestamp)}</td><td>${kwhText(r.kwhAmount)}</td><td>${pill(r.status)}</td><td class="hide-narrow">${r.gatewayId ?? ''}</td><td class="hide-narrow">${r.lastError ?? ''}</td>${
        actions
          ? html`<td><form data-api="/readings/${r.id}/retry" data-method="POST" data-after="reload" data-done="Put back in the queue." class="inline"><button type="submit" aria-label="Retry reading ${r.id.slice(0, 8)}">Retry</button></form>
<form data-api="/readings/${r.id}/void" data-method="POST" data-after="reload" data-done="Voided." class="inline"><label>Reason <input name="reason" required size="10"></label><button type="submit" class="danger" aria-label="Void reading ${r.id.slice(0, 8)}">Void</button></form></td>`
          : ''
      }</tr>`,
    )}</tbody></table></div>`;

  // The search's results (count, table, pager): the page's live partial. Keyset pages only: a refresh of page
  // 2,000 costs what page 1 does.
  const readingQuery = (q: Record<string, string>) => {
    const status = optional(q.status, 'status');
    if (status !== undefined && !READING_STATUSES.includes(status as ReadingStatus)) throw new ValidationError(`status must be one of ${READING_STATUSES.join(', ')}`, 'status');
    const f = { meterId: optional(q.meter, 'meter'), wallet: optional(q.wallet, 'wallet'), gatewayId: optional(q.gateway, 'gateway'), status: status as ReadingStatus | undefined, from: dateOf(optional(q.from, 'from'), 'from'), to: dateOf(optional(q.to, 'to'), 'to') };
    const params = new URLSearchParams(Object.entries({ meter: q.meter, wallet: q.wallet, gateway: q.gateway, status: q.status, from: q.from, to: q.to }).filter((e): e is [string, string] => !!e[1]));
    const all = new URLSearchParams([...params, ...(q.cursor ? [['cursor', q.cursor] as [string, string]] : [])]);
    return { status, f, params, all };
  };
  const readingResults = async (q: Record<string, string>) => {
    const { f, params } = readingQuery(q);
    const rows = await searchReadings(d.db, { ...f, before: q.cursor ? readingCursor.decode(q.cursor) : undefined, limit: PAGE });
    const last = rows[rows.length - 1];
    const next = rows.length === PAGE && last ? `/console/readings?${new URLSearchParams([...params, ['cursor', readingCursor.encode([last.createdAt.toISOString(), last.id])]])}` : null;
    return html`<p>${rows.length === 0 ? 'No readings match.' : `Showing ${rows.length}, newest first.`}</p>
${readingRows(rows)}
<nav class="pager" aria-label="Pages">${q.cursor ? html`<a href="/console/readings?${params.toString()}">First page</a>` : ''}${next ? html`<a href="${next}" rel="next">Next page</a>` : ''}</nav>`;
  };
  app.get('/console/fragments/readings', async (c) => c.html(await readingResults(c.req.query())));
  app.get('/console/readings', async (c) => {
    const q = c.req.query();
    const { status, all } = readingQuery(q);
    return render(
      c,
      'Readings',
      '/console/readings',
      html`<form method="get" action="/console/readings" class="grid" role="search" aria-label="Search readings">
<label>Meter <input name="meter" value="${q.meter ?? ''}"></label>
<label>Wallet <input name="wallet" value="${q.wallet ?? ''}"></label>
<label>Gateway <input name="gateway" value="${q.gateway ?? ''}"></label>
<label>Status <select name="status"><option value="">any</option>${READING_STATUSES.map((s) => html`<option${s === status ? raw(' selected') : ''}>${s}</option>`)}</select></label>
<label>From (UTC) <input name="from" type="datetime-local" value="${q.from ?? ''}"></label>
<label>To (UTC) <input name="to" type="datetime-local" value="${q.to ?? ''}"></label>
<button type="submit">Search</button>
</form>
${live('readings-live', `/console/fragments/readings?${all.toString()}`, await readingResults(q))}`,
    );
  });

  app.get('/console/readings/:id', async (c) => {
    const id = uuidParam(c.req.param('id'));
    const r = await getReading(d.db, id);
    if (!r) throw new NotFound(`reading ${id}`);
    const h = await readingHistory(d.db, r.id);
    return render(
      c,
      `Reading ${r.id.slice(0, 8)}`,
      '/console/readings',
      html`<div class="table"><table><tbody>
<tr><th>Id</th><td class="mono">${r.id}</td></tr>
<tr><th>Meter</th><td><a href="/console/meters/${encodeURIComponent(r.meterId)}">${r.meterId}</a> (gateway ${r.gatewayId ?? '—'})</td></tr>
<tr><th>Owner / wallet</th><td>${r.userId} · <span class="mono">${r.walletAddress}</span></td></tr>
<tr><th>Time</th><td>${when(r.readingTimestamp)}</td></tr>
<tr><th>Energy</th><td>${kwhText(r.kwhAmount)} kWh → ${r.tokensToMint} base units</td></tr>
<tr><th>Status</th><td>${pill(r.status)} after ${r.attempts} attempt(s) ${r.lastError ? html`· <span>${r.lastError}</span>` : ''}</td></tr>
<tr><th>Accepted</th><td>${when(r.createdAt)} · last change ${when(r.updatedAt)}</td></tr>
${h.void ? html`<tr><th>Voided</th><td>by ${h.void.actor} at ${when(h.void.voidedAt)} (was ${h.void.previousStatus}): ${h.void.reason}</td></tr>` : ''}
</tbody></table></div>
${r.status === 'failed' ? html`<form data-api="/readings/${r.id}/retry" data-method="POST" data-after="reload" data-done="Put back in the queue." class="inline"><button type="submit">Retry</button></form>` : ''}
${r.status === 'failed' || r.status === 'pending' ? html`<form data-api="/readings/${r.id}/void" data-method="POST" data-after="reload" data-done="Voided." class="inline"><label>Reason <input name="reason" required></label><button type="submit" class="danger">Void</button></form>` : ''}
<h2>Transactions that carried it</h2>
${h.transactions.length === 0 ? html`<p>None yet.</p>` : html`<div class="table"><table><thead><tr><th>Signature</th><th>Status</th><th>Error</th><th>Batch</th><th>Signed</th></tr></thead><tbody>${h.transactions.map((t) => html`<tr><td class="mono">${t.signature}</td><td>${pill(t.status)}</td><td>${t.error ?? ''}</td><td class="mono">${t.batchId ? html`<a href="/console/batches/${t.batchId}">${t.batchId.slice(0, 8)}</a>` : ''}</td><td>${when(t.createdAt)}</td></tr>`)}</tbody></table></div>`}
<h2>Batches</h2>
${h.batches.length === 0 ? html`<p>None yet.</p>` : html`<ul>${h.batches.map((b) => html`<li><a href="/console/batches/${b.id}">${b.id.slice(0, 8)}</a> ${pill(b.state)} ${when(b.createdAt)}</li>`)}</ul>`}`,
    );
  });

  // ---- failed readings (the dead letter) -----------------------------------------------------------
  const failedTables = async () => {
    const groups = await failedByError(d.db);
    const rows = await searchReadings(d.db, { status: 'failed', limit: PAGE });
    return html`<h2>By error</h2>
${groups.length === 0 ? html`<p id="no-failed">No failed readings.</p>` : ''}
<div class="table"><table><thead><tr><th>Error</th><th>Readings</th><th class="hide-narrow">Newest</th><th>Action</th></tr></thead><tbody>
${groups.map((g) => html`<tr><td>${g.error ?? '(none)'}</td><td>${g.count}</td><td class="hide-narrow">${when(g.newest)}</td><td><form data-api="/readings/retry" data-method="POST" data-body="${JSON.stringify(g.error === null ? { all: true } : { error: g.error })}" data-after="reload" class="inline"><button type="submit">Retry all ${g.count}</button></form></td></tr>`)}
</tbody></table></div>
<h2>Newest ${rows.length} failed readings</h2>
${readingRows(rows, true)}`;
  };
  app.get('/console/fragments/failed', async (c) => c.html(await failedTables()));
  app.get('/console/failed', async (c) =>
    render(
      c,
      'Failed readings',
      '/console/failed',
      html`<p>Readings that used up their attempts. Fix the cause, then put them back in the queue; void a reading that is wrong (it is never minted, and its meter and time stay taken).</p>
<h2>Retry by filter</h2>
<form data-api="/readings/retry" data-method="POST" data-after="reload" class="grid">
<label>Meter <input name="meter_id"></label><label>Gateway <input name="gateway_id"></label><label>Wallet <input name="wallet_address"></label>
<label>Failed from (ISO) <input name="from" placeholder="2026-11-01T00:00:00Z"></label><label>Failed before (ISO) <input name="to"></label>
<button type="submit">Retry the matching failed readings</button></form>
${live('failed-live', '/console/fragments/failed', await failedTables())}`,
    ),
  );

  // ---- meters --------------------------------------------------------------------------------------
  const meterTable = async (q: string | undefined, cursor: string | undefined) => {
    const rows = await searchMeters(d.db, { q, after: cursor ? meterCursor.decode(cursor) : undefined, limit: PAGE });
    const next = rows.length === PAGE ? `/console/meters?${new URLSearchParams({ ...(q ? { q } : {}), cursor: meterCursor.encode(rows[rows.length - 1]!.meterId) })}` : null;
    return html`<div class="table"><table><thead><tr><th>Meter</th><th>Gateway</th><th class="hide-narrow">Owner</th><th>Kind</th><th class="hide-narrow">max kW</th><th>State</th><th>Action</th></tr></thead>
<tbody>${rows.map((m) => html`<tr><td><a href="/console/meters/${encodeURIComponent(m.meterId)}">${m.meterId}</a></td><td>${m.gatewayId}</td><td class="hide-narrow">${m.userId}</td><td>${m.kind}${m.intervalMinutes ? ` ${m.intervalMinutes} min` : ''}</td><td class="hide-narrow">${kwhText(m.maxKw)}</td><td>${m.disabledAt ? 'disabled' : 'active'}</td><td>${m.disabledAt ? '' : html`<form data-api="/meters/${encodeURIComponent(m.meterId)}" data-method="DELETE" data-after="reload" data-confirm="Disable meter ${m.meterId}?" class="inline"><button type="submit" class="secondary" aria-label="Disable meter ${m.meterId}">Disable</button></form>`}</td></tr>`)}</tbody></table></div>
<nav class="pager" aria-label="Pages">${next ? html`<a href="${next}" rel="next">Next page</a>` : ''}</nav>`;
  };
  app.get('/console/fragments/meters', async (c) => c.html(await meterTable(optional(c.req.query('q'), 'q'), c.req.query('cursor'))));
  app.get('/console/meters', async (c) => {
    const q = optional(c.req.query('q'), 'q');
    const cursor = c.req.query('cursor');
    const gws = await listGateways(d.db);
    const query = new URLSearchParams({ ...(q ? { q } : {}), ...(cursor ? { cursor } : {}) });
    return render(
      c,
      'Meters',
      '/console/meters',
      html`<form method="get" action="/console/meters" class="inline" role="search" aria-label="Search meters"><label>Meter, owner or wallet <input name="q" value="${q ?? ''}"></label><button type="submit">Search</button></form>
${live('meters-live', `/console/fragments/meters?${query}`, await meterTable(q, cursor))}
<h2>Register or change a meter</h2>
<form data-api="/meters/{meter_id}" data-method="PUT" data-number="interval_minutes" data-after="reload" data-done="Meter saved." class="grid" id="meter-form">
<label>Meter id <input name="meter_id" required></label>
<label>Gateway <select name="gateway_id"><option value="">(unchanged)</option>${gws.filter((g) => !g.disabledAt).map((g) => html`<option>${g.gatewayId}</option>`)}</select></label>
<label>Owner (user id) <input name="user_id"></label>
<label>Wallet <input name="wallet_address"></label>
<label>Kind <select name="kind"><option value="">(unchanged)</option><option>interval</option><option>register</option></select></label>
<label>Interval minutes (interval meters) <input name="interval_minutes" type="number" min="1" max="1440" placeholder="15"></label>
<label>Register baseline kWh (register meters) <input name="register_baseline.kwh" placeholder="1000"></label>
<label>Baseline at (ISO) <input name="register_baseline.at" placeholder="2026-11-01T00:00:00Z"></label>
<label>max kW <input name="max_kw"></label>
<label>Active from (ISO) <input name="active_from" placeholder="2026-11-01T00:00:00Z"></label>
<label>Public key (optional) <input name="public_key"></label>
<button type="submit">Save meter</button></form>
<p>A new meter needs every field but the public key (a register meter: its baseline, not an interval). To change a meter, give its id and only the fields to change: empty fields are left as they are.</p>
<h2>Import meters from CSV</h2>
<p>A header line naming the fields (<code>meter_id,gateway_id,user_id,wallet_address,kind,interval_minutes,max_kw,active_from</code>), one meter per line. All or nothing: an error names its line.</p>
<form data-api="/meters" data-method="PUT" data-csv="1" data-after="reload" class="inline"><label>CSV file <input type="file" name="file" accept=".csv,text/csv"></label><button type="submit">Import</button></form>`,
    );
  });
  app.get('/console/meters/:id', async (c) => {
    const id = boundedText(c.req.param('id'), 'id', MAX_ID_CHARS);
    const m = await getMeter(d.db, id);
    if (!m) throw new NotFound(`meter ${id}`);
    const t = await meterTotals(d.db, id);
    const rows = await searchReadings(d.db, { meterId: id, limit: 20 });
    return render(
      c,
      `Meter ${id}`,
      '/console/meters',
      html`<div class="cards"><div class="card"><h2>Readings</h2><div class="big">${t.readingsAccepted}</div></div><div class="card"><h2>kWh accepted</h2><div class="big">${kwhText(t.kwhAccepted)}</div></div><div class="card"><h2>Tokens minted (base units)</h2><div class="big">${t.tokensMinted}</div></div><div class="card"><h2>In the queue</h2><div class="big">${t.pending}</div></div></div>
<div class="table"><table><tbody><tr><th>Gateway</th><td>${m.gatewayId}</td></tr><tr><th>Owner</th><td>${m.userId}</td></tr><tr><th>Wallet</th><td class="mono">${m.walletAddress}</td></tr><tr><th>Kind</th><td>${m.kind} ${m.intervalMinutes ? `${m.intervalMinutes} min` : ''}</td></tr><tr><th>max kW</th><td>${kwhText(m.maxKw)}</td></tr><tr><th>Public key</th><td class="mono">${m.publicKey ?? '—'}</td></tr><tr><th>State</th><td>${m.disabledAt ? `disabled ${when(m.disabledAt)}` : 'active'}</td></tr></tbody></table></div>
<h2>Latest readings</h2>${readingRows(rows)}<p><a href="/console/readings?meter=${encodeURIComponent(id)}">All readings of ${id}</a></p>`,
    );
  });

  // ---- gateways ------------------------------------------------------------------------------------
  const gatewayTable = async () => {
    const gws = await listGateways(d.db);
    return html`<div class="table"><table><thead><tr><th>Gateway</th><th>Source</th><th>Meters</th><th class="hide-narrow">Keys</th><th>State</th><th>Actions</th></tr></thead>
<tbody>${gws.map((g) => html`<tr data-gateway="${g.gatewayId}"><td>${g.gatewayId}</td><td>${g.source}</td><td>${g.meters}</td><td class="hide-narrow">${g.keys.length}</td><td>${g.disabledAt ? 'disabled' : 'active'}</td><td>${
      g.source === 'env'
        ? 'managed by GATEWAY_API_KEYS'
        : g.disabledAt
          ? ''
          : html`<form data-api="/gateways/${g.gatewayId}/rotate" data-method="POST" data-done="New key made; the old one works for 24 hours." class="inline"><button type="submit" class="secondary" aria-label="Rotate the key of ${g.gatewayId}">Rotate key</button></form>
<form data-api="/gateways/${g.gatewayId}" data-method="DELETE" data-done="Gateway ${g.gatewayId} disabled: its keys no longer work." data-confirm="Disable gateway ${g.gatewayId}? Its keys stop working." class="inline"><button type="submit" class="danger" aria-label="Disable ${g.gatewayId}">Disable</button></form>`
    }</td></tr>`)}</tbody></table></div>`;
  };
  app.get('/console/fragments/gateways', async (c) => c.html(await gatewayTable()));
  app.get('/console/gateways', async (c) =>
    render(
      c,
      'Gateways',
      '/console/gateways',
      html`<div id="shown-key" class="key" hidden><span>Key of <strong class="for"></strong>, shown once: <code class="mono" id="key-text"></code></span><button type="button" data-copy="#key-text">Copy key</button></div>
<h2>Create a gateway</h2>
<form data-api="/gateways" data-method="POST" data-done="Gateway created: copy its key now, it is not shown again." data-reset class="inline"><label>Gateway id <input name="gateway_id" required pattern="[A-Za-z0-9._\\-]{1,64}"></label><button type="submit">Create</button></form>
<h2>Gateways</h2>
${live('gateways-live', '/console/fragments/gateways', await gatewayTable())}`,
    ),
  );

  // ---- settings ------------------------------------------------------------------------------------
  // Two live parts: the pause switch, and the worker's settings (neither refreshed while being edited).
  const mintingPart = async () => {
    const pause = await mintingPause(d.db);
    return html`<p id="minting-state">${pause ? html`<strong>Paused</strong> by ${pause.by} at ${pause.at}: ${pause.reason}` : html`<strong>Running</strong>`}</p>
${pause
  ? html`<form data-api="/minting/resume" data-method="POST" data-done="Minting resumed." class="inline"><button type="submit">Resume minting</button></form>`
  : html`<form data-api="/minting/pause" data-method="POST" data-done="Minting paused." class="inline"><label>Reason <input name="reason" required></label><button type="submit" class="danger">Pause minting</button></form>`}`;
  };
  const settingsPart = async () => {
    const s = await readSettings(d.db, d.defaults);
    return html`<form data-api="/settings" data-method="PUT" data-number="batch_interval_ms max_batch_size max_attempts retry_backoff_ms" data-done="Settings saved: the worker reads them on its next cycle." class="grid">
<label>Batch interval (ms) <input name="batch_interval_ms" type="number" min="10" value="${s.batchIntervalMs}"></label>
<label>Max batch size <input name="max_batch_size" type="number" min="1" value="${s.maxBatchSize}"></label>
<label>Max attempts <input name="max_attempts" type="number" min="1" value="${s.maxAttempts}"></label>
<label>Retry back-off (ms) <input name="retry_backoff_ms" type="number" min="0" value="${s.backoffMs}"></label>
<button type="submit">Save settings</button></form>`;
  };
  app.get('/console/fragments/minting', async (c) => c.html(await mintingPart()));
  app.get('/console/fragments/settings', async (c) => c.html(await settingsPart()));
  app.get('/console/settings', async (c) =>
    render(
      c,
      'Settings',
      '/console/settings',
      html`<h2>Minting</h2>
${live('minting-live', '/console/fragments/minting', await mintingPart())}
<p>While paused no worker claims readings; transactions already signed are still followed to the end. The pause is stored in the database: it holds across restarts and every worker process.</p>
<h2>Worker settings</h2>
${live('settings-live', '/console/fragments/settings', await settingsPart())}`,
    ),
  );

  // A console page's error: the page frame with the message (JSON errors stay the API's).
  app.onError((e, c) => {
    if (!c.req.path.startsWith('/console') || !(e instanceof AppError) || e.httpStatus >= 500) throw e;
    if (e instanceof CsrfRefused) return c.text(e.message, 403);
    const s = c.get('consoleSession' as never) as Session | undefined;
    return c.html(page({ title: 'Not possible', path: '', operator: s?.operator, csrf: s?.csrf, body: html`<p role="alert">${e.message}</p>` }), e.httpStatus as 400);
  });

  return app;
}
