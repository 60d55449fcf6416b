// Names sent as keys or path segments are looked up among the service's own names only: `constructor`,
// `__proto__`, `toString`... as an asset are 404 (they were read as file paths: 500, with the server's
// directories in the log), and as a setting 400 naming it (it stored a system_settings row named `undefined`).
import { Writable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { systemSettings } from '../../../src/db/schema.js';
import { DATABASES, type TestDatabase, withDatabase } from '../../support/db.js';
import { consoleApp } from '../../support/console.js';
import { client, type Request } from '../../support/meters.js';

const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'];

describe.each(DATABASES)('on %s', (kind, open) => {
  let t: TestDatabase | null = null;
  let request: Request;
  const logged: string[] = [];
  withDatabase(kind, open, async (d) => {
    t = d;
    const { makeLog } = await import('../../../src/log.js');
    const log = makeLog('info', new Writable({ write: (c, _e, cb) => (logged.push(String(c)), cb()) }));
    request = (await consoleApp(d.database, { log })).request;
  });

  it.each(PROTOTYPE_NAMES)('GET /console/assets/%s and /docs/assets/%s are 404, and nothing is logged as an error', async (name) => {
    if (!t) return;
    for (const path of [`/console/assets/${name}`, `/docs/assets/${name}`]) {
      const res = await request(path);
      expect([path, res.status]).toEqual([path, 404]);
    }
    expect(logged.filter((l) => /"level":50/.test(l))).toEqual([]);
  });

  it.each(PROTOTYPE_NAMES)('PUT /settings {"%s": 5} is 400 naming it, and stores nothing', async (name) => {
    if (!t) return;
    const res = await client(request).put('op')('/settings', `{"${name}": 5}`);
    const body = (await res.json()) as { error: { field?: string; message: string } };
    expect([res.status, body.error.field]).toEqual([400, name]);
    expect(body.error.message).toContain(`unknown setting ${name}`);
    expect(await t!.database.db.select().from(systemSettings).where(eq(systemSettings.key, 'undefined'))).toEqual([]);
  });
});
