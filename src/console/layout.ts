// The console's page frame: navigation, a live region for answers, the session's CSRF token for the
// script (changes go to the JSON API with it), htmx and uPlot from node_modules (never a CDN).
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export const NAV: [string, string][] = [
  ['/console', 'Overview'],
  ['/console/batches', 'Batches'],
  ['/console/readings', 'Readings'],
  ['/console/failed', 'Failed readings'],
  ['/console/meters', 'Meters'],
  ['/console/gateways', 'Gateways'],
  ['/console/settings', 'Settings'],
  ['/docs', 'API reference'],
];

export function page(p: { title: string; path: string; operator?: string; csrf?: string; body: Html; chart?: boolean }): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${p.csrf ? html`<meta name="csrf-token" content="${p.csrf}">` : ''}
<title>${p.title} · energy-token-minter</title>
<link rel="stylesheet" href="/console/assets/console.css">
${p.chart ? html`<link rel="stylesheet" href="/console/assets/uPlot.min.css"><script src="/console/assets/uPlot.iife.min.js"></script>` : ''}
<script src="/console/assets/htmx.min.js"></script>
<script src="/console/assets/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
${p.operator
    ? html`<header>
<nav aria-label="Console">
<strong class="brand">Minter console</strong>
<ul>${NAV.map(([href, label]) => html`<li><a href="${href}"${p.path === href ? raw(' aria-current="page"') : ''}>${label}</a></li>`)}</ul>
<form method="post" action="/console/logout" class="signout"><input type="hidden" name="_csrf" value="${p.csrf}"><span>${p.operator}</span> <button type="submit">Sign out</button></form>
</nav>
</header>`
    : ''}
<main id="main">
<h1>${p.title}</h1>
<p id="status" role="status" aria-live="polite"></p>
${p.body}
</main>
</body>
</html>`;
}

export const when = (d: Date | null | undefined): string => (d ? d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');
