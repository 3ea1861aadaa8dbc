// The field app end to end in headless Chromium (playwright-core), as a
// checkpoint officer and HQ would use it on phones. Run by
// crates/corridor/tests/field_browser.rs, which declares a Monaco operation
// and passes, in the environment:
//
//   CORRIDOR_BIN, DATA_DIR  the binary and the operation's data directory
//   PORT                    the port the server listens on (the app's origin)
//   FIELD_DIR               a copy of the field app the server serves (--field-app)
//   CP_LINK, HQ_LINK        the checkpoint's and HQ's links (token create --link)
//   CP_TOKEN_ID             the checkpoint token's id (to revoke it)
//   HQ_TOKEN                HQ's token (to read the log)
//   SHOTS                   where screenshots go
//   N                       passages recorded offline (default 200)
//   BIG                     optional: a queue of this many passages imported offline
//   PLAYWRIGHT_CORE_DIR, CHROMIUM
//
// It prints `figure: …` lines that the Rust test repeats.

import { createRequire } from 'node:module';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, appendFileSync, writeFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

const env = process.env;
const require = createRequire(path.resolve(env.PLAYWRIGHT_CORE_DIR || process.cwd(), 'noop.js'));
const { chromium } = require('playwright-core');

const N = Number(env.N || 200), BIG = Number(env.BIG || 0);
const base = `http://127.0.0.1:${env.PORT}`;
const started = Date.now();
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);
const sleep = ms => new Promise(r => setTimeout(r, ms));
const watchdog = setTimeout(() => { console.error('FAIL: the field browser test took over 540 s'); process.exit(1); }, 540_000 + BIG * 60);
mkdirSync(env.SHOTS, { recursive: true });

// ------------------------------------------------------------ the server
let server = null;
async function startServer() {
  const child = spawn(env.CORRIDOR_BIN, ['--data-dir', env.DATA_DIR, 'serve', '--listen', `127.0.0.1:${env.PORT}`, '--public-rate', '100000', '--field-app', env.FIELD_DIR], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise((ok, fail) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', ok);
    child.once('exit', c => fail(new Error('corridor serve exited with ' + c)));
  });
  assert.match(first, /field app at \/field\//);
  server = child;
}
function killServer() { server.kill('SIGKILL'); server = null; }
async function api(p, token = env.HQ_TOKEN) {
  const r = await fetch(base + p, { headers: { Authorization: 'Bearer ' + token } });
  assert.ok(r.ok, `${p}: HTTP ${r.status}`);
  return r.json();
}
// Every entry of the log (HQ reads 1,000 at a time).
async function logEntries() {
  const out = [];
  for (let from = 0; ; from += 1000) {
    const r = await api(`/api/v1/events?from=${from}`);
    out.push(...r.entries);
    if (from + 1000 >= r.size) return out;
  }
}
function corridor(...args) { return execFileSync(env.CORRIDOR_BIN, ['--data-dir', env.DATA_DIR, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }); }

// ------------------------------------------------------------ the phone
const profile = mkdtempSync(path.join(os.tmpdir(), 'field-profile-'));
const phone = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const launch = () => chromium.launchPersistentContext(profile, { executablePath: env.CHROMIUM || '/usr/bin/chromium', headless: true, ...phone });
const errors = [];
function watch(page) {
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error' && !/Failed to load resource|net::ERR_INTERNET_DISCONNECTED|EventSource|ERR_CONNECTION_REFUSED/.test(m.text())) errors.push(m.text()); });
  return page;
}
const status = page => page.getByRole('status').textContent();
// The entries the app holds, from its IndexedDB.
const held = page => page.evaluate(() => new Promise((ok, fail) => {
  const r = indexedDB.open('corridor-field');
  r.onsuccess = () => { const q = r.result.transaction('queue').objectStore('queue').getAll(); q.onsuccess = () => { ok(q.result); r.result.close(); }; q.onerror = () => fail(q.error); };
  r.onerror = () => fail(r.error);
}));
async function until(what, check, ms = 60_000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    // A page reloading (the app updating itself) is not an answer yet.
    try { last = await check(); } catch (e) { last = String(e.message || e).split('\n')[0]; }
    if (last === true) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)?.slice(0, 400)}`);
}
const counts = async (page, ids) => {
  const h = await held(page);
  const mine = ids ? h.filter(q => ids.has(q.id)) : h;
  const c = {};
  for (const q of mine) c[q.state] = (c[q.state] || 0) + 1;
  return c;
};
const shot = async (page, name) => { await page.evaluate(() => window.scrollTo(0, 0)); await page.screenshot({ path: path.join(env.SHOTS, name + '.png') }); };

// One passage through the form, as an officer types it.
async function record(page, vehicle, c, { confirm, convoy } = {}) {
  await page.getByLabel('Vehicle', { exact: true }).fill(vehicle);
  if (convoy) await page.getByLabel('Convoy', { exact: true }).fill(convoy);
  for (const [g, n] of Object.entries(c)) await page.getByLabel(g, { exact: true }).fill(String(n));
  await page.getByRole('button', { name: 'Record passage' }).click();
  if (confirm !== undefined) {
    const d = page.getByRole('dialog');
    await d.waitFor();
    const text = await d.textContent();
    await d.getByRole('button', { name: confirm ? 'Record anyway' : 'Cancel' }).click();
    return text;
  }
  // Held on the device (not only a cleared form).
  await until(`${vehicle} queued`, async () => (await held(page)).some(q => q.event.body.passage?.vehicle === vehicle && q.event.body.passage.counts.women === c.women) || 'not held', 5000);
}

let ctx, page;
try {
  await startServer();
  ctx = await launch();
  page = watch(ctx.pages()[0] || await ctx.newPage());

  // 1. The link opens the app; the token leaves the address bar.
  await page.goto(env.CP_LINK);
  await page.getByRole('button', { name: 'Record passage' }).waitFor();
  assert.ok(!page.url().includes('token'), `the token stays in the address bar: ${page.url()}`);
  await until('the service worker', () => page.evaluate(() => !!navigator.serviceWorker.controller || 'no controller'));
  for (const name of ['Vehicle', 'Convoy', 'women', 'children', 'men', 'elderly', 'Wounded']) assert.equal(await page.getByLabel(name, { exact: true }).count(), 1, `a control named ${name}`);
  const v1 = await page.evaluate(() => document.querySelector('meta[name=corridor-field-version]').content);
  log('app version', v1, 'status:', await status(page));
  await shot(page, 'checkpoint-en');
  await page.getByRole('button', { name: 'عربي' }).click();
  await until('right to left', async () => (await page.evaluate(() => document.documentElement.dir)) === 'rtl' || 'ltr', 5000);
  await page.getByRole('button', { name: 'سجّل العبور' }).waitFor();
  await shot(page, 'checkpoint-ar');
  await page.getByRole('button', { name: 'English' }).click();

  // 2. Online: a passage gets its receipt; the warnings; a correction.
  await record(page, 'bus-001', { women: 20, children: 25 });
  await until('the first receipt', async () => (await counts(page)).receipt === 1 || await counts(page));
  let w = await record(page, 'bus-001', { women: 1 }, { confirm: false });
  assert.match(w, /bus-001 was already counted here on this trip/);
  w = await record(page, 'bus-002', { women: 40, men: 30 }, { confirm: false });
  assert.match(w, /70 people is more than the vehicle's 50 places/);
  // Counts the model would refuse are caught in the app, offline too.
  for (const [c, says] of [[{ women: '-5' }, /women: give a whole number of people/], [{ women: '2', Wounded: '3' }, /3 wounded is more than the 2 people counted/]]) {
    await page.getByLabel('Vehicle', { exact: true }).fill('bus-002');
    for (const g of ['women', 'children', 'men', 'elderly', 'Wounded']) await page.getByLabel(g, { exact: true }).fill(c[g] ?? '');
    await page.getByRole('button', { name: 'Record passage' }).click();
    await until('the form says why', async () => { const w = (await page.locator('form .warn').allTextContents()).join(' | '); return says.test(w) || w; }, 5000);
    for (const g of Object.keys(c)) await page.getByLabel(g, { exact: true }).fill('');
  }
  assert.equal((await held(page)).length, 1, 'nothing queued from a refused form');
  await page.getByLabel('Vehicle', { exact: true }).fill('');
  await page.locator('#entries li[data-state=receipt]').first().getByRole('button', { name: 'Correct' }).click();
  const dlg = page.getByRole('dialog');
  await dlg.getByLabel('women', { exact: true }).fill('21');
  await dlg.getByLabel('Reason').fill('recount at the port: 21 women');
  await dlg.getByRole('button', { name: 'Record correction' }).click();
  await until('the correction in the signed log', async () => (await counts(page)).receipt === 2 || await counts(page));
  assert.match(await page.locator('#entries').textContent(), /bus-001 · convoy-1 · 45 \(Wounded 0\) → 46 \(Wounded 0\), corrected/);
  assert.match(await page.locator('#entries').textContent(), /Correct bus-001: recount at the port/);
  const view = await api('/api/v1/checkpoints/cp-fontvieille');
  assert.equal(view.corrections.length, 1, 'the correction is in the checkpoint view');
  assert.equal(view.passages.find(p => p.vehicle === 'bus-001').counts.women, 21);
  // Voided after its correction: gone from the views (the void names the passage).
  await page.locator('#entries li[data-state=receipt]', { hasText: 'bus-001 · convoy-1 · 45' }).getByRole('button', { name: 'Correct' }).click();
  await dlg.getByLabel('Void: this passage should not have been recorded').check();
  await dlg.getByLabel('Reason').fill('counted at the wrong checkpoint');
  await dlg.getByRole('button', { name: 'Record correction' }).click();
  await until('the void in the signed log', async () => (await counts(page)).receipt === 3 || await counts(page));
  await until('bus-001 gone from the checkpoint view', async () => !(await api('/api/v1/checkpoints/cp-fontvieille')).passages.some(p => p.vehicle === 'bus-001') || 'still there', 10_000);
  assert.match(await page.locator('#entries').textContent(), /bus-001 · convoy-1 · 45 \(Wounded 0\): voided/);

  // 3. Offline: N passages across a reload and a browser restart, and one
  //    the model will refuse (an ambulance that is not in the convoy).
  await ctx.setOffline(true);
  const offlineIds = new Set();
  const vehicles = Array.from({ length: N }, (_, i) => `bus-${String(i + 2).padStart(3, '0')}`);
  const third = Math.floor(N / 3);
  for (const v of vehicles.slice(0, third)) await record(page, v, { women: 10, children: 12, men: 8, elderly: 3 });
  await page.reload();
  await page.getByRole('button', { name: 'Record passage' }).waitFor();
  for (const v of vehicles.slice(third, 2 * third)) await record(page, v, { women: 11, children: 9 });
  await record(page, 'amb-001', { women: 1 }, { convoy: 'convoy-1' });
  await shot(page, 'checkpoint-offline');
  await ctx.close();
  // A new version of the app is published while the phone is off.
  appendFileSync(path.join(env.FIELD_DIR, 'app.js'), '\n// a new release\n');
  ctx = await launch();
  await ctx.setOffline(true);
  page = watch(ctx.pages()[0] || await ctx.newPage());
  await page.goto(base + '/field/');
  await page.getByRole('button', { name: 'Record passage' }).waitFor();
  for (const v of vehicles.slice(2 * third)) await record(page, v, { men: 30, Wounded: 2 });
  for (const q of await held(page)) if (q.state === 'waiting') offlineIds.add(q.id);
  assert.equal(offlineIds.size, N + 1, `every passage recorded offline is held: ${JSON.stringify(await counts(page))}, ${JSON.stringify((await held(page)).filter(q => q.state !== 'waiting').map(q => [q.event.body.passage?.vehicle, q.state, q.reason]))}`);
  assert.match(await status(page), new RegExp(`offline.*${N + 1} waiting`));

  // 4. The network back: each sent once, each with a checked receipt,
  //    while the new version of the app takes over.
  const t0 = Date.now();
  await ctx.setOffline(false);
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await until('every receipt', async () => { const c = await counts(page, offlineIds); return (c.receipt === N && c.refused === 1) || c; }, 120_000);
  const sync = (Date.now() - t0) / 1000;
  console.log(`figure: ${N} passages queued offline: reconnect to the last checked receipt in ${sync.toFixed(2)} s`);
  await until('the new version', () => page.evaluate(v => document.querySelector('meta[name=corridor-field-version]').content !== v || 'old version', v1), 30_000);
  const refused = (await held(page)).find(q => q.state === 'refused');
  assert.match(refused.reason, /^422: .*amb-001/, 'the refusal says why');
  assert.equal(await page.locator('#entries li[data-state=refused]').count(), 1, 'the refused entry is shown');
  // A long refusal wraps: the page stays as wide as the phone.
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 360, 'the page is wider than the phone');
  // The list is re-rendered on a timer and as receipts arrive, so an element
  // handle can go stale between finding and scrolling: find and scroll in one
  // step inside the page.
  await until('the refused entry in view', () => page.evaluate(() => {
    const li = document.querySelector('#entries li[data-state=refused]');
    if (!li) return 'no refused entry shown';
    li.scrollIntoView({ block: 'center' });
    return true;
  }), 10_000);
  await page.screenshot({ path: path.join(env.SHOTS, 'checkpoint-refused.png') });
  const inLog = (await logEntries()).filter(e => offlineIds.has(e.event.id));
  assert.equal(inLog.length, N, 'each offline passage is in the log once');
  assert.equal(new Set(inLog.map(e => e.event.id)).size, N);

  // 5. Faults: 503s, then the server killed mid-sync; nothing lost, nothing doubled.
  await ctx.setOffline(true);
  const more = Array.from({ length: 40 }, (_, i) => `bus-${String(N + 2 + i).padStart(3, '0')}`);
  for (const v of more) await record(page, v, { women: 5 });
  const faultIds = new Set((await held(page)).filter(q => q.state === 'waiting').map(q => q.id));
  // The first answer is lost on the way back (the server appended), then
  // three 503s, then the server is killed.
  let posts = 0;
  await ctx.route('**/api/v1/events', async r => {
    if (r.request().method() !== 'POST') return r.continue();
    posts++;
    if (posts === 1) { await r.fetch(); return r.abort('connectionreset'); }
    if (posts <= 4) return r.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"storage failed"}' });
    return r.continue();
  });
  await ctx.setOffline(false);
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await until('a lost answer and three 503s', () => posts >= 4 || posts, 30_000);
  killServer();
  await sleep(1500);
  await startServer();
  await until('receipts after 503s and a kill', async () => { const c = await counts(page, faultIds); return c.receipt === 40 || c; }, 120_000);
  await ctx.unroute('**/api/v1/events');
  const after = (await logEntries()).filter(e => faultIds.has(e.event.id));
  assert.equal(after.length, 40, 'after a lost answer, 503s and a kill, each once');
  const at = new Map(after.map(e => [e.event.id, e.index]));
  for (const q of (await held(page)).filter(q => faultIds.has(q.id))) assert.equal(q.index, at.get(q.id), `${q.id}: the app holds the index the log has`);

  // 6. A revoked token mid-queue: kept, and the officer told what to do.
  await ctx.setOffline(true);
  for (const v of ['bus-250', 'bus-251']) await record(page, v, { men: 2 });
  corridor('token', 'revoke', env.CP_TOKEN_ID);
  await ctx.setOffline(false);
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await until('the refusal explained', async () => /refused this device's token.*Ask HQ for a new link/.test(await status(page)) || await status(page), 30_000);
  assert.equal((await counts(page)).waiting, 2, 'entries kept under a revoked token');
  // The queue exported as a file (for `corridor log append` or another device).
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export queue' }).click()]);
  await download.saveAs(env.EXPORT_FILE);
  const exported = (await import('node:fs')).readFileSync(env.EXPORT_FILE, 'utf8').trim().split('\n').map(l => JSON.parse(l));
  assert.deepEqual(exported.map(e => e.body.passage.vehicle).sort(), ['bus-250', 'bus-251']);
  // A new link from HQ (token create prints it on standard error).
  const made = spawnSync(env.CORRIDOR_BIN, ['--data-dir', env.DATA_DIR, 'token', 'create', '--role', 'checkpoint', '--checkpoint', 'cp-fontvieille', '--link', base], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const newLink = made.stderr.match(/field app: (\S+)/)[1];
  await page.goto(newLink);
  await until('sent with the new token', async () => (await counts(page)).waiting === undefined || await counts(page), 30_000);

  // 7. A tampered proof is refused in the app.
  await ctx.route('**/api/v1/receipts*', async r => {
    const resp = await r.fetch();
    const body = await resp.json();
    for (const rc of body.receipts) if (rc.proof.length) { const b = Buffer.from(rc.proof[0], 'base64'); b[0] ^= 1; rc.proof[0] = b.toString('base64'); }
    await r.fulfill({ response: resp, json: body });
  });
  await record(page, 'bus-252', { women: 3 });
  await until('the tampered proof refused', async () => (await counts(page))['bad-proof'] === 1 || await counts(page), 30_000);
  assert.equal(await page.locator('#entries li.bad-proof').count(), 1, 'shown in red');
  assert.match(await status(page), /failed to check against the signed log/);
  await ctx.unroute('**/api/v1/receipts*');

  // 8. HQ's console: a halt reaches the checkpoint screen within a second.
  const hqCtx = await chromium.launch({ executablePath: env.CHROMIUM || '/usr/bin/chromium', headless: true }).then(b => b.newContext(phone));
  const hq = watch(await hqCtx.newPage());
  await hq.goto(env.HQ_LINK);
  // A convoy dispatched from the console is expected at the checkpoint.
  await hq.getByRole('button', { name: 'Convoy dispatched', exact: true }).click();
  await hq.getByLabel('convoy', { exact: true }).fill('convoy-2');
  await hq.getByLabel('corridor', { exact: true }).fill('fontvieille-larvotto');
  await hq.getByLabel('vehicles', { exact: true }).fill('amb-001, amb-002');
  await hq.getByRole('button', { name: /^Record: Convoy dispatched/ }).click();
  // The officer types the ambulance: its new convoy fills itself in.
  await until('convoy-2 expected at the checkpoint', async () => {
    await page.getByLabel('Vehicle', { exact: true }).fill('amb-001');
    return (await page.getByLabel('Convoy', { exact: true }).inputValue()) === 'convoy-2' || 'not yet';
  }, 10_000);
  await page.getByLabel('Vehicle', { exact: true }).fill('');
  await page.getByLabel('Convoy', { exact: true }).fill('');
  await hq.getByRole('button', { name: 'Incident', exact: true }).click();
  await hq.getByLabel('incident', { exact: true }).fill('halt-port');
  await hq.getByLabel('kind', { exact: true }).selectOption('halt');
  await hq.getByLabel('corridor', { exact: true }).fill('fontvieille-larvotto');
  await hq.getByLabel('description', { exact: true }).fill('Shelling near the port: convoys wait');
  await shot(hq, 'hq-en');
  assert.equal(await page.locator('#corridor-status').textContent(), 'open');
  const th = Date.now();
  await hq.getByRole('button', { name: /^Record: Incident/ }).click();
  await until('halted on the checkpoint screen', async () => (await page.locator('#corridor-status').textContent()) === 'halted' || 'not yet', 10_000);
  await until('halted on the console', async () => (await hq.locator('[data-corridor=fontvieille-larvotto]').textContent()) === 'halted' || 'not yet', 10_000);
  const halt = (Date.now() - th) / 1000;
  console.log(`figure: HQ halt to the checkpoint screen in ${halt.toFixed(2)} s`);
  assert.ok(halt < 1.0, `the halt took ${halt} s to reach the checkpoint screen`);
  await hq.getByRole('button', { name: 'عربي' }).click();
  await shot(hq, 'hq-ar');
  await until('the dispatch and the halt in the signed log on HQ\'s device', async () => (await counts(hq)).receipt === 2 || await counts(hq), 30_000);
  w = await record(page, 'bus-253', { women: 4 }, { confirm: true });
  assert.match(w, /The corridor is halted: the count will be kept but flagged/);
  await until('the flagged count in the signed log', async () => (await counts(page)).receipt >= N + 40 + 6 || await counts(page), 30_000);
  await hqCtx.close();

  // 9. A device holding entries in the app's first storage schema: the
  //    new app migrates them and sends them.
  const oldCtx = await chromium.launch({ executablePath: env.CHROMIUM || '/usr/bin/chromium', headless: true }).then(b => b.newContext(phone));
  const old = watch(await oldCtx.newPage());
  await old.goto(base + '/field/icon.svg');
  const token = decodeURIComponent(newLink.match(/#token=([^&]*)/)[1]), key = decodeURIComponent(newLink.match(/&key=([^&]*)/)[1]);
  const oldIds = await old.evaluate(async ({ token, key }) => {
    const db = await new Promise((ok, fail) => { const r = indexedDB.open('corridor-field', 1); r.onupgradeneeded = () => { r.result.createObjectStore('queue', { keyPath: 'id' }); r.result.createObjectStore('config', { keyPath: 'k' }); }; r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
    const ids = [];
    const tx = db.transaction(['queue', 'config'], 'readwrite');
    tx.objectStore('config').put({ k: 'token', v: token });
    tx.objectStore('config').put({ k: 'key', v: key });
    for (const [v, status] of [['bus-254', 'pending'], ['bus-255', 'pending'], ['bus-256', 'sent']]) {
      const id = 'cp-fontvieille-v1-' + v;
      ids.push(id);
      tx.objectStore('queue').put({ id, status, event: { v: 1, id, time: new Date(Date.now() - 60000).toISOString().replace(/\.\d+Z$/, 'Z'), author: 'cp-fontvieille', body: { passage: { vehicle: v, convoy: 'convoy-1', corridor: 'fontvieille-larvotto', checkpoint: 'cp-fontvieille', counts: { women: 7 }, wounded: 0 } } } });
    }
    await new Promise(ok => { tx.oncomplete = ok; });
    db.close();
    return ids;
  }, { token, key });
  await old.goto(base + '/field/');
  await until('the first schema\'s entries sent', async () => { const c = await counts(old, new Set(oldIds)); return c.receipt === 3 || c; }, 30_000);
  await oldCtx.close();

  // 10. A big queue, imported offline (a file from another device).
  if (BIG) {
    await ctx.setOffline(true);
    const file = path.join(profile, '..', `field-big-${process.pid}.jsonl`);
    const now = new Date(Date.now() - 30000).toISOString().replace(/\.\d+Z$/, 'Z');
    writeFileSync(file, Array.from({ length: BIG }, (_, i) => JSON.stringify({ v: 1, id: `big-${i}`, time: now, author: 'cp-fontvieille', body: { passage: { vehicle: `bus-${String(300 + i).padStart(3, '0')}`, convoy: 'convoy-1', corridor: 'fontvieille-larvotto', checkpoint: 'cp-fontvieille', counts: { women: 1 }, wounded: 0 } } })).join('\n'));
    await page.locator('#import-file').setInputFiles(file);
    await until('the big queue held', async () => ((await counts(page)).waiting || 0) >= BIG || await counts(page), 120_000);
    const tb = Date.now();
    await ctx.setOffline(false);
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    const bigIds = new Set(Array.from({ length: BIG }, (_, i) => `big-${i}`));
    await until('the big queue\'s receipts', async () => { const c = await counts(page, bigIds); return c.receipt === BIG || c; }, 60_000 + BIG * 100);
    console.log(`figure: ${BIG} passages queued offline: reconnect to the last checked receipt in ${((Date.now() - tb) / 1000).toFixed(2)} s`);
    const big = (await logEntries()).filter(e => bigIds.has(e.event.id));
    assert.equal(big.length, BIG);
    rmSync(file);
  }

  assert.deepEqual(errors, [], 'script errors');
  log('field browser test passed');
} catch (e) {
  console.error('FAIL:', e.stack || e);
  if (page) {
    await shot(page, 'failure').catch(() => {});
    const reasons = await held(page).then(h => h.filter(q => q.reason).map(q => `${q.id} ${q.state}: ${q.reason}`)).catch(() => []);
    if (reasons.length) console.error('entries needing attention:\n' + reasons.slice(0, 10).join('\n'));
    const all = await held(page).catch(() => []);
    console.error(`${all.length} entries held; the newest: ` + JSON.stringify(all.sort((a, b) => b.seq - a.seq).slice(0, 3).map(q => [q.state, q.event.body])));
  }
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  if (ctx) await ctx.close().catch(() => {});
  if (server) killServer();
  rmSync(profile, { recursive: true, force: true });
  process.exit(process.exitCode || 0);
}
