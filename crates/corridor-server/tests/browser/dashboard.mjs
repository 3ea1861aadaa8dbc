// End-to-end test of the dashboard in headless Chromium, driven by
// playwright-core, against `corridor demo --serve` replaying the reference
// evacuation. Run by crates/corridor/tests/dashboard_browser.rs:
//
//   node dashboard.mjs MONITOR_URL PUBLIC_URL SCREENSHOT_DIR
//
// PLAYWRIGHT_CORE_DIR: the directory holding node_modules/playwright-core;
// CHROMIUM: the browser (default /usr/bin/chromium).

import { createRequire } from 'node:module';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

const [monitorUrl, publicUrl, outDir] = process.argv.slice(2);
if (!monitorUrl || !publicUrl || !outDir) {
  console.error('usage: node dashboard.mjs MONITOR_URL PUBLIC_URL SCREENSHOT_DIR');
  process.exit(2);
}
const require = createRequire(path.resolve(process.env.PLAYWRIGHT_CORE_DIR || process.cwd(), 'noop.js'));
const { chromium } = require('playwright-core');

const base = new URL(publicUrl).origin;
const token = decodeURIComponent(new URL(monitorUrl).hash.replace(/^#token=/, ''));
const started = Date.now();
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);
const sleep = ms => new Promise(r => setTimeout(r, ms));
// The whole run must end: a hung browser fails the test instead of blocking it.
const watchdog = setTimeout(() => { console.error('FAIL: the browser test took over 240 s'); process.exit(1); }, 240_000);

async function api(p, auth) {
  const r = await fetch(base + p, auth ? { headers: { Authorization: 'Bearer ' + token } } : {});
  assert.ok(r.ok, `${p}: HTTP ${r.status}`);
  return r.json();
}
const shot = (page, name) => page.screenshot({ path: path.join(outDir, name + '.png'), fullPage: true });

// Every request a page makes: nothing may leave the server (no CDN, no tiles).
function watch(page, name) {
  const requests = [], errors = [];
  page.on('request', r => requests.push(r.url()));
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error' && !/Failed to load resource|EventSource/.test(m.text())) errors.push(m.text()); });
  return {
    requests,
    check() {
      const outside = requests.filter(u => !u.startsWith(base) && !u.startsWith('data:'));
      assert.deepEqual(outside, [], `${name}: requests outside the server`);
      // The token travels in headers only: a URL would be logged by proxies.
      const inUrl = requests.filter(u => token && u.includes(encodeURIComponent(token)));
      assert.deepEqual(inUrl, [], `${name}: the token in a URL`);
      assert.deepEqual(errors, [], `${name}: script errors`);
    },
  };
}

// What the page shows, read from its stable ids.
const shown = page => page.evaluate(() => {
  const num = el => (el ? Number(el.dataset.value) : null);
  const out = { withdrawn: num(document.querySelector('#withdrawn')), wounded: num(document.querySelector('#wounded')), groups: {}, corridors: {}, recon: {}, incidents: {} };
  for (const el of document.querySelectorAll('[data-group]')) out.groups[el.dataset.group] = num(el.querySelector('.num'));
  for (const el of document.querySelectorAll('#corridors [data-corridor]')) {
    const c = { open: el.dataset.open === 'true' };
    for (const f of el.querySelectorAll('[data-field]')) c[f.dataset.field] = num(f);
    out.corridors[el.dataset.corridor] = c;
  }
  for (const el of document.querySelectorAll('#recon [data-field]')) out.recon[el.dataset.field] = num(el);
  out.recon_ok = !!document.querySelector('#recon .ok-note');
  for (const el of document.querySelectorAll('#incidents [data-kind]')) out.incidents[el.dataset.kind] = num(el);
  out.vehicles_lost = num(document.querySelector('#vehicles-lost'));
  out.notices = document.querySelectorAll('#notices .notice').length;
  out.convoys = [...document.querySelectorAll('#map .convoy')].map(g => ({ id: g.dataset.convoy, checkpoint: g.dataset.checkpoint }));
  return out;
});

// The page's figures against the server's public summary.
function expectMatches(s, p, name) {
  assert.equal(p.withdrawn, s.withdrawn.people, `${name}: withdrawn`);
  assert.equal(p.wounded, s.withdrawn.wounded, `${name}: wounded`);
  for (const g of s.groups) assert.equal(p.groups[g], s.withdrawn.by_group[g] || 0, `${name}: group ${g}`);
  for (const c of s.corridors) {
    const t = s.by_corridor[c.id] || { people: 0, wounded: 0, by_group: {} };
    const q = p.corridors[c.id];
    assert.ok(q, `${name}: corridor ${c.id} shown`);
    assert.equal(q.open, c.open, `${name}: corridor ${c.id} open`);
    assert.equal(q.people, t.people, `${name}: corridor ${c.id} people`);
    assert.equal(q.wounded, t.wounded, `${name}: corridor ${c.id} wounded`);
    for (const [g, n] of Object.entries(t.by_group)) assert.equal(q[g], n, `${name}: corridor ${c.id} ${g}`);
  }
  for (const [k, v] of Object.entries(s.reconciliation)) if (k !== 'all_reconciled') assert.equal(p.recon[k], v, `${name}: reconciliation ${k}`);
  for (const [k, v] of Object.entries(s.incidents)) assert.equal(p.incidents[k], v, `${name}: incidents ${k}`);
  assert.equal(p.vehicles_lost, s.vehicles_lost, `${name}: vehicles lost`);
}

// Waits until the page shows the server's latest summary (it must within about a second).
async function settle(page, name) {
  let last = null, err = null;
  for (let i = 0; i < 40; i++) {
    const s = await api('/api/v1/public/summary');
    if (last && s.size === last.size) {
      // The replay is over: the page must match within 1.5 s.
      const until = Date.now() + 1500;
      for (;;) {
        try { expectMatches(s, await shown(page), name); return s; } catch (e) { err = e; }
        if (Date.now() > until) throw err;
        await sleep(100);
      }
    }
    last = s;
    await sleep(1500);
  }
  throw new Error(`${name}: the log never stopped growing`);
}

mkdirSync(outDir, { recursive: true });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
try {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1, locale: 'en-US' });
  const page = await ctx.newPage();
  const w = watch(page, 'monitor view');
  await page.goto(monitorUrl);
  await page.waitForSelector('#withdrawn');
  await page.waitForSelector('#map .road', { timeout: 15_000 });
  assert.equal(await page.textContent('#mode'), 'Monitor view');
  log('monitor view open');

  // Follow the replay: the counters climb and convoys appear and move.
  const seenWithdrawn = new Set(), convoyCounts = new Set(), moves = new Map();
  let noticesSeen = 0, openSeen = 0;
  const target = 31_284 + 1_540;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const p = await shown(page);
    seenWithdrawn.add(p.withdrawn);
    convoyCounts.add(p.convoys.length);
    noticesSeen = Math.max(noticesSeen, p.notices);
    openSeen = Math.max(openSeen, Object.values(p.corridors).filter(c => c.open).length);
    for (const c of p.convoys) { if (!moves.has(c.id)) moves.set(c.id, new Set()); moves.get(c.id).add(c.checkpoint); }
    // "All reconciled" only beside nothing in transit, overdue or discrepant (issue 20 item 11).
    assert.ok(!p.recon_ok || (p.recon.in_transit === 0 && p.recon.overdue === 0 && p.recon.discrepancies === 0),
      `"every trip counted out" shown beside ${p.recon.in_transit} in transit, ${p.recon.overdue} overdue`);
    if (p.withdrawn === target) break;
    assert.ok(p.withdrawn <= target, `withdrawn ${p.withdrawn} over the scenario's ${target}`);
    assert.ok(Date.now() < deadline, `the page never reached ${target} withdrawn (last ${p.withdrawn})`);
    await sleep(200);
  }
  const steps = [...seenWithdrawn].sort((a, b) => a - b);
  log(`withdrawn reached ${target} through ${steps.length} values; convoy marker counts seen ${[...convoyCounts].sort((a, b) => a - b).join(',')}`);
  assert.ok(steps.length >= 3 && steps[0] < target, `the counter should climb live during the replay (saw ${steps.join(',')})`);
  assert.ok(convoyCounts.size >= 2, 'convoy markers should appear during the replay');
  const moved = [...moves.values()].filter(s => s.size > 1).length;
  log(`${moved} convoys were seen at more than one checkpoint; up to ${noticesSeen} notices and ${openSeen} open corridors at once`);
  assert.ok(noticesSeen > 0, 'notices to residents should show during the replay');
  assert.ok(openSeen > 0, 'a corridor should show open during the replay');

  const s = await settle(page, 'monitor view');
  log(`page matches the final summary (size ${s.size})`);
  const p = await shown(page);
  // The scenario's published counts for the Aleppo corridor.
  const aleppo = p.corridors['ramouseh-rashidin4'];
  assert.deepEqual({ people: aleppo.people, armed: aleppo.armed, women: aleppo.women, children: aleppo.children, wounded: aleppo.wounded },
    { people: 31_284, armed: 14_891, women: 7_606, children: 8_787, wounded: 701 }, 'the Aleppo corridor\'s published counts');
  assert.equal(p.withdrawn, 32_824);
  assert.equal(p.groups.armed, 14_891);
  assert.equal(await page.textContent('#withdrawn'), '32,824');
  assert.equal(p.corridors['fuah-kafarya-aleppo'].people, 1_540);

  // Times in the operation's zone (Asia/Damascus: UTC+2 in winter 2016–17,
  // UTC+3 from April to late October 2017, by the tz database; UTC for a
  // log that declares no operation), with its name and map.
  const op = s.operation, zone = op ? op.timezone : 'UTC';
  const asOf = new Date(s.as_of), pad = n => String(n).padStart(2, '0');
  const summer = asOf.getUTCMonth() >= 3 && asOf.getUTCMonth() <= 8;
  const offset = { 'Asia/Damascus': summer ? 3 : 2, UTC: 0 }[zone];
  assert.ok(offset !== undefined, `a zone this test knows: ${zone}`);
  assert.equal(await page.getAttribute('#as-of', 'data-zone'), zone);
  const hhmm = `${pad((asOf.getUTCHours() + offset) % 24)}:${pad(asOf.getUTCMinutes())} ${offset ? 'UTC+' + offset : 'UTC'}`;
  assert.ok((await page.textContent('#as-of')).endsWith(hhmm), `as of ${await page.textContent('#as-of')}, want … ${hhmm}`);
  if (op) {
    assert.equal(await page.textContent('#operation'), op.name);
    assert.ok((await page.textContent('#attribution')).includes(op.map.attribution), 'the declared map\'s attribution');
  } else {
    assert.ok(await page.isHidden('#operation'), 'no operation, no name');
  }

  // Convoy markers: one per convoy, at its furthest checkpoint.
  await sleep(800);
  const list = await api('/api/v1/convoys', true);
  const markers = (await shown(page)).convoys;
  assert.equal(markers.length, list.length, 'one marker per convoy');
  for (const c of list) {
    const m = markers.find(x => x.id === c.convoy);
    assert.ok(m, `marker for ${c.convoy}`);
    assert.equal(m.checkpoint, c.checkpoint || '', `${c.convoy} at its furthest checkpoint`);
    if (c.status === 'arrived') assert.ok(c.checkpoint, `arrived ${c.convoy} has a checkpoint`);
  }
  // Reconciliation and incidents lists (monitor only).
  const rec = await api('/api/v1/reconciliation', true);
  assert.equal(await page.locator('#recon tr.discrepancy').count(), rec.discrepancies.length);
  assert.equal(await page.locator('#recon tr.overdue').count(), rec.overdue.length);
  const fig = await api('/api/v1/figures', true);
  assert.equal(await page.locator('#incident-list tr.incident').count(), fig.incidents.length, 'incident list');
  await shot(page, 'monitor-en');

  // A convoy's details: its vehicles.
  const pick = list.find(c => c.status === 'attacked') || list.find(c => c.checkpoint) || list[0];
  const detail = await api('/api/v1/convoys/' + pick.convoy, true);
  // Its corridor's view, then the marker.
  await page.click(`#map-tools [data-preset="${pick.corridor}"]`);
  await page.locator(`#map .convoy[data-convoy="${pick.convoy}"]`).click();
  await page.waitForSelector('#convoy-details #details-vehicles tr.vehicle');
  assert.equal(await page.textContent('#details-convoy'), pick.convoy);
  const vehicleIds = await page.$$eval('#convoy-details tr.vehicle', rows => rows.map(r => r.dataset.vehicle));
  assert.deepEqual(vehicleIds, detail.state.vehicles, 'the details panel lists the convoy\'s vehicles');
  assert.equal(Number(await page.getAttribute('#convoy-details [data-field=people_out]', 'data-value')), detail.state.people_out);
  log(`details of ${pick.convoy}: ${vehicleIds.length} vehicles`);
  await shot(page, 'convoy-details');

  // Arabic.
  await page.click('#lang-toggle');
  assert.equal(await page.getAttribute('html', 'dir'), 'rtl');
  assert.equal(await page.getAttribute('html', 'lang'), 'ar');
  assert.equal(await page.textContent('[data-l=withdrawn]'), 'الأشخاص الذين تم إجلاؤهم');
  assert.equal(await page.textContent('#mode'), 'عرض المراقب');
  assert.equal(await page.textContent('#withdrawn'), '٣٢٬٨٢٤');
  const bridge = s.corridors.flatMap(c => c.checkpoints).find(k => k.id === 'cp1-ramouseh-bridge');
  assert.ok(bridge && bridge.name_ar, 'the scenario names checkpoints in Arabic');
  assert.equal(await page.textContent('#map text.cp-label[data-checkpoint="cp1-ramouseh-bridge"]'), bridge.name_ar, 'map labels use name_ar');
  assert.match(await page.textContent('#convoy-details'), /[\u0600-\u06FF]/, 'the details panel is in Arabic');
  await page.click('#details-close');
  await shot(page, 'monitor-ar');
  await page.click('#lang-toggle');
  assert.equal(await page.getAttribute('html', 'dir'), 'ltr');
  w.check();
  const tokenPaths = w.requests.filter(u => /\/api\/v1\/(convoys|figures|reconciliation)/.test(u));
  assert.ok(tokenPaths.length > 0, 'the monitor view reads the token endpoints');
  await ctx.close();

  // The public view: aggregates only.
  const pctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1, locale: 'en-US' });
  const pub = await pctx.newPage();
  const pw = watch(pub, 'public view');
  await pub.goto(publicUrl);
  await pub.waitForSelector('#map .road', { timeout: 15_000 });
  await settle(pub, 'public view');
  await sleep(1500);
  assert.equal(await pub.textContent('#mode'), 'Public view');
  assert.equal(await pub.locator('.convoy').count(), 0, 'no convoy markers in the public view');
  assert.equal(await pub.locator('.convoy-row').count(), 0, 'no convoy rows in the public view');
  assert.ok(await pub.locator('#convoy-details').isHidden(), 'no convoy details in the public view');
  const html = await pub.content();
  for (const c of list.slice(0, 5)) assert.ok(!html.includes(c.convoy), `the public page names no convoy (${c.convoy})`);
  assert.doesNotMatch(html, /\b(amb|bus)-\d{3}\b/, 'the public page names no vehicle');
  const leaked = pw.requests.filter(u => /\/api\/v1\/(convoys|figures|reconciliation|events)/.test(u) || /token=/.test(u));
  assert.deepEqual(leaked, [], 'the public view requests no token-only data');
  pw.check();
  await shot(pub, 'public');
  await pctx.close();

  // A checkpoint token opens its checkpoint's view, not "token refused".
  if (process.env.CHECKPOINT_URL_FILE) {
    let url = null;
    for (let i = 0; i < 300 && !url; i++) {
      try { url = readFileSync(process.env.CHECKPOINT_URL_FILE, 'utf8'); } catch (_) { await sleep(100); }
    }
    assert.ok(url, 'the checkpoint token was made');
    const cctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1, locale: 'en-US' });
    const cp = await cctx.newPage();
    await cp.goto(url);
    await cp.waitForSelector('#checkpoint-view table', { timeout: 15_000 });
    assert.match(await cp.textContent('#mode'), /^Checkpoint view: cp1-ramouseh-bridge$/);
    assert.ok(await cp.locator('#banner').isHidden(), 'no "token refused" banner');
    assert.match(await cp.textContent('#checkpoint-view'), /Ramouseh bridge/);
    assert.equal(await cp.locator('.convoy-row').count(), 0, 'a checkpoint sees no convoy table');
    await shot(cp, 'checkpoint');
    await cctx.close();
    log('checkpoint view open');
  }
  log('all checks passed; screenshots in ' + outDir);
} finally {
  await browser.close();
  clearTimeout(watchdog);
}
