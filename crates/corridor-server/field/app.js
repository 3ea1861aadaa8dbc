// Corridor field app: a checkpoint officer records passages, HQ records
// live facts. Offline first: every entry is written to IndexedDB with its
// event id before it is sent, sent by a foreground loop with backoff, and
// kept until its receipt (an inclusion proof against the log's signed
// checkpoint, checked here with WebCrypto) is checked.
'use strict';

const VERSION = '__VERSION__';
const $ = id => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k != null) e.append(k);
  return e;
};

// ---------------------------------------------------------------- words
const WORDS = {
  en: {
    title: 'Corridor field', checkpoint: 'Checkpoint', corridor: 'Corridor', open: 'open', closed: 'closed', halted: 'halted',
    window_now: 'Truce window ends in', window_next: 'Next truce window opens in', no_window: 'No truce window ahead',
    expected: 'Expected here', none_expected: 'No vehicle expected here now.', record: 'Record a passage',
    more_expected: n => `… and ${n} more: type the vehicle's id in Vehicle.`,
    vehicle: 'Vehicle', convoy: 'Convoy', wounded: 'Wounded', record_passage: 'Record passage', places: 'places',
    entries: 'Entries on this device', waiting: 'waiting', sent: 'sent', receipt: 'in the signed log', refused: 'refused', 'bad-proof': 'proof failed',
    correct: 'Correct', edit: 'Edit and record again', discard: 'Discard', reason: 'Reason', void: 'Void: this passage should not have been recorded', record_correction: 'Record correction',
    confirm_title: 'Check before recording', record_anyway: 'Record anyway', cancel: 'Cancel',
    warn_counted: v => `${v} was already counted here on this trip.`,
    warn_places: (n, p) => `${n} people is more than the vehicle's ${p} places.`,
    warn_status: s => `The corridor is ${s}: the count will be kept but flagged.`,
    warn_window: 'No truce window is open now: the count will be kept but flagged.',
    need_vehicle: 'Choose a vehicle from the list.', need_convoy: 'Give the convoy (trip) this vehicle travels in.', need_count: 'Give at least one count.',
    bad_count: g => `${g}: give a whole number of people, from 0 to 10,000,000.`,
    bad_wounded: (w, n) => `${w} wounded is more than the ${n} people counted: the wounded are counted within the groups.`,
    need_reason: 'Say why you correct this passage (a recount, the wrong vehicle, …).',
    need_field: f => `Give ${f}.`, voided: 'voided', corrected: 'corrected',
    k_open: 'Corridor opened', k_close: 'Corridor closed', corridors_now: 'Corridors now',
    h_convoy: 'The convoy\'s id (a new one for a new trip, e.g. convoy-7)', h_corridor: 'The corridor (its id)', h_vehicles: 'Registered vehicle ids, separated by commas',
    h_incident: 'A new id for this incident, e.g. halt-3', h_kind: 'What happened', h_site: 'A site id, if it concerns one', h_killed: 'People killed, if known (a count)',
    h_description: 'What happened, in words', h_agreement: 'A new id for the agreement', h_sites: 'The sites it links, by id, separated by commas', h_terms: 'Its terms, in words',
    h_notice: 'A new id for the notice', h_channel: 'How it was sent', h_language: 'The language it was written in', h_window: 'The truce window it announces (its id), if any',
    h_references: 'The notice it updates or cancels (its id), if any', h_recipients: 'How many people it was sent to', h_content: 'The text as sent (only its SHA-256 is recorded)', h_reason: 'Why, in words (optional)',
    q_online: 'online', q_offline: 'offline: entries are kept on this device and sent when the network is back',
    q_summary: (w, s, r, x) => `${w} waiting · ${s} sent · ${r} in the signed log` + (x ? ` · ${x} need attention` : ''),
    q_revoked: m => `The server refused this device's token (${m}). Nothing is lost: the entries stay here. Ask HQ for a new link, open it on this device, and they will be sent.`,
    q_retry: s => `The server did not answer; trying again in ${s} s.`,
    q_proof_failed: n => `${n} receipt(s) failed to check against the signed log: shown in red. Export them and report to HQ and the monitors.`,
    storage_kept: 'Storage: kept by the browser (persistent).',
    storage_refused: 'Storage: the browser may clear this app\'s data when space runs low. Send entries while online, and export the queue if it grows.',
    export: 'Export queue', import: 'Import a queue file', imported: n => `${n} entries imported.`,
    no_link: 'Open this app from the link or QR code HQ gave you (it carries your token and the log\'s key).',
    no_view: 'Waiting for the first connection to the server to load this checkpoint.',
    version: 'App version', updated: 'The app was updated; nothing waiting was lost.',
    hq: 'HQ console', hq_note: 'Live facts only; set-up (corridors, vehicles, windows) stays in corridor apply.',
    k_dispatch: 'Convoy dispatched', k_incident: 'Incident', k_agreement: 'Agreement', k_notice: 'Notice issued',
    send: 'Record', total: 'total', at: 'at', index: 'index', in_log: 'in log',
    no_key: 'The link carries no usable log key, so receipts cannot be checked here: ask HQ for a new link (your entries are kept and sent).',
    no_crypto: 'This browser cannot check the log\'s signatures (it needs HTTPS and a recent browser): entries are sent, but their receipts are not checked here.',
    not_recorded: e => `NOT recorded: ${e}. Try again; if it fails again, write the count down.`,
  },
  ar: {
    title: 'الممر - الميدان', checkpoint: 'نقطة التفتيش', corridor: 'الممر', open: 'مفتوح', closed: 'مغلق', halted: 'متوقف',
    window_now: 'تنتهي الهدنة بعد', window_next: 'تبدأ الهدنة التالية بعد', no_window: 'لا هدنة مقبلة',
    expected: 'المركبات المتوقعة هنا', none_expected: 'لا مركبة متوقعة هنا الآن.', record: 'تسجيل عبور',
    more_expected: n => `… و${n} غيرها: اكتب رقم المركبة في خانة المركبة.`,
    vehicle: 'المركبة', convoy: 'القافلة', wounded: 'الجرحى', record_passage: 'سجّل العبور', places: 'مقعد',
    entries: 'السجلات على هذا الجهاز', waiting: 'بانتظار الإرسال', sent: 'أُرسل', receipt: 'في السجل الموقَّع', refused: 'مرفوض', 'bad-proof': 'فشل الإثبات',
    correct: 'تصحيح', edit: 'عدّل وسجّل من جديد', discard: 'تجاهل', reason: 'السبب', void: 'إلغاء: ما كان يجب تسجيل هذا العبور', record_correction: 'سجّل التصحيح',
    confirm_title: 'تحقق قبل التسجيل', record_anyway: 'سجّل على أي حال', cancel: 'إلغاء',
    warn_counted: v => `سبق عدّ ${v} هنا في هذه الرحلة.`,
    warn_places: (n, p) => `${n} شخصاً أكثر من ${p} مقعداً في المركبة.`,
    warn_status: s => `الممر ${s}: سيُحفظ العدّ مع إشارة.`,
    warn_window: 'لا هدنة سارية الآن: سيُحفظ العدّ مع إشارة.',
    need_vehicle: 'اختر مركبة من القائمة.', need_convoy: 'اذكر القافلة التي تسير فيها المركبة.', need_count: 'أدخل عدداً واحداً على الأقل.',
    bad_count: g => `${g}: أدخل عدداً صحيحاً من الأشخاص بين 0 و10,000,000.`,
    bad_wounded: (w, n) => `عدد الجرحى ${w} أكبر من عدد الأشخاص ${n}: الجرحى محسوبون ضمن الفئات.`,
    need_reason: 'اذكر سبب تصحيح هذا العبور (إعادة العدّ، مركبة خاطئة، …).',
    need_field: f => `أدخل ${f}.`, voided: 'أُلغي', corrected: 'صُحّح',
    k_open: 'فتح الممر', k_close: 'إغلاق الممر', corridors_now: 'الممرات الآن',
    h_convoy: 'رقم القافلة (رقم جديد لرحلة جديدة، مثل convoy-7)', h_corridor: 'الممر (رقمه)', h_vehicles: 'أرقام المركبات المسجلة، تفصل بينها فواصل',
    h_incident: 'رقم جديد لهذا الحادث، مثل halt-3', h_kind: 'ما الذي حدث', h_site: 'رقم الموقع إن كان يعنيه', h_killed: 'عدد القتلى إن عُرف',
    h_description: 'ما الذي حدث، بالكلمات', h_agreement: 'رقم جديد للاتفاق', h_sites: 'المواقع التي يربطها، بأرقامها، تفصل بينها فواصل', h_terms: 'شروطه، بالكلمات',
    h_notice: 'رقم جديد للإشعار', h_channel: 'كيف أُرسل', h_language: 'اللغة التي كُتب بها', h_window: 'الهدنة التي يعلنها (رقمها) إن وجدت',
    h_references: 'الإشعار الذي يحدّثه أو يلغيه (رقمه) إن وجد', h_recipients: 'عدد من أُرسل إليهم', h_content: 'النص كما أُرسل (يُسجَّل بصمته SHA-256 فقط)', h_reason: 'السبب، بالكلمات (اختياري)',
    q_online: 'متصل', q_offline: 'غير متصل: تُحفظ السجلات على الجهاز وتُرسل عند عودة الشبكة',
    q_summary: (w, s, r, x) => `${w} بانتظار الإرسال · ${s} أُرسل · ${r} في السجل الموقَّع` + (x ? ` · ${x} تحتاج انتباهاً` : ''),
    q_revoked: m => `رفض الخادم رمز هذا الجهاز (${m}). لم يُفقد شيء: السجلات باقية هنا. اطلب من القيادة رابطاً جديداً وافتحه على هذا الجهاز لتُرسل.`,
    q_retry: s => `لم يُجب الخادم؛ محاولة جديدة بعد ${s} ث.`,
    q_proof_failed: n => `${n} إيصال لم يتطابق مع السجل الموقَّع: بالأحمر. صدّرها وأبلغ القيادة والمراقبين.`,
    storage_kept: 'التخزين: يحفظه المتصفح (دائم).',
    storage_refused: 'التخزين: قد يمسح المتصفح بيانات التطبيق عند امتلاء المساحة. أرسل السجلات عند الاتصال وصدّر الطابور إن كبر.',
    export: 'تصدير الطابور', import: 'استيراد ملف طابور', imported: n => `استُورد ${n} سجلاً.`,
    no_link: 'افتح هذا التطبيق من الرابط أو رمز QR الذي أعطتك إياه القيادة.',
    no_view: 'بانتظار أول اتصال بالخادم لتحميل نقطة التفتيش.',
    version: 'إصدار التطبيق', updated: 'حُدّث التطبيق؛ لم يُفقد شيء من السجلات المنتظرة.',
    hq: 'لوحة القيادة', hq_note: 'الوقائع الحية فقط؛ الإعداد يبقى في corridor apply.',
    k_dispatch: 'إرسال قافلة', k_incident: 'حادث', k_agreement: 'اتفاق', k_notice: 'إصدار إشعار',
    send: 'سجّل', total: 'المجموع', at: 'في', index: 'الرقم', in_log: 'في السجل',
    no_key: 'الرابط لا يحمل مفتاح السجل، فلا يمكن التحقق من الإيصالات هنا: اطلب رابطاً جديداً من القيادة (السجلات محفوظة وتُرسل).',
    no_crypto: 'هذا المتصفح لا يستطيع التحقق من تواقيع السجل (يحتاج HTTPS ومتصفحاً حديثاً): تُرسل السجلات لكن لا يُتحقق من إيصالاتها هنا.',
    not_recorded: e => `لم يُسجَّل: ${e}. حاول مجدداً؛ وإن فشل فاكتب العدد على ورق.`,
  },
};
let lang = 'en';
const t = (k, ...a) => { const w = WORDS[lang][k] ?? WORDS.en[k] ?? k; return typeof w === 'function' ? w(...a) : w; };

// ---------------------------------------------------------------- storage
// Schema 1 (first release): queue {id, event, status}. Schema 2: queue
// {id, seq, event, state, index, reason, …} with an index by state, and a
// store for the last checkpoint view (to work offline).
const DB_VERSION = 2;
let db;
function openDb() {
  return new Promise((ok, fail) => {
    const r = indexedDB.open('corridor-field', DB_VERSION);
    r.onupgradeneeded = ev => {
      const d = r.result, tx = r.transaction;
      if (ev.oldVersion < 1) { d.createObjectStore('queue', { keyPath: 'id' }); d.createObjectStore('config', { keyPath: 'k' }); }
      if (ev.oldVersion < 2) {
        const q = tx.objectStore('queue');
        q.createIndex('state', 'state');
        d.createObjectStore('view', { keyPath: 'k' });
        let seq = 0;
        q.openCursor().onsuccess = e => {
          const c = e.target.result;
          if (!c) return;
          const v = c.value;
          if (v.state === undefined) {
            // Schema 1's status: 'pending' | 'sent' | 'failed'.
            // Schema 1 kept no index: a sent entry is sent again, which
            // the server answers with its first index.
            v.state = { failed: 'refused' }[v.status] || 'waiting';
            v.seq = v.seq ?? Date.parse(v.event?.time || 0) * 1000 + (seq++ % 1000);
            v.created = v.created ?? v.event?.time;
            delete v.status;
            c.update(v);
          }
          c.continue();
        };
      }
    };
    r.onsuccess = () => { db = r.result; db.onversionchange = () => { db.close(); location.reload(); }; ok(db); };
    r.onerror = () => fail(r.error);
    r.onblocked = () => fail(new Error('another tab holds an older version of this app open: close it'));
  });
}
function tx(store, mode, fn, durability = 'default') {
  return new Promise((ok, fail) => {
    const x = db.transaction(store, mode, { durability });
    let out;
    x.oncomplete = () => ok(out);
    x.onerror = x.onabort = () => fail(x.error || new Error('storage failed'));
    out = fn(x.objectStore(store));
  });
}
const req = r => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
async function getAll(store) { let out; await tx(store, 'readonly', s => { req(s.getAll()).then(v => { out = v; }); }); return out; }
async function put(store, v, durability) { await tx(store, 'readwrite', s => { s.put(v); }, durability); }
async function putMany(store, vs) { await tx(store, 'readwrite', s => { for (const v of vs) s.put(v); }); }
async function del(store, k) { await tx(store, 'readwrite', s => { s.delete(k); }); }
async function config(k) { let out; await tx('config', 'readonly', s => { req(s.get(k)).then(v => { out = v?.v; }); }); return out; }
async function setConfig(k, v) { await put('config', { k, v }); }

// ---------------------------------------------------------------- state
let cfg = {};       // {token, key, who: {role, checkpoint, author}}
let view = null;    // the checkpoint view (cached)
let queue = [];     // entries, newest first for display
let online = navigator.onLine;
let problem = null; // a message for the status region
let seqNext = Date.now() * 1000;
let storageKept = null; // navigator.storage.persist()'s answer

async function loadQueue() { queue = (await getAll('queue')).sort((a, b) => b.seq - a.seq); }

async function api(path, opts = {}) {
  const headers = { Authorization: 'Bearer ' + cfg.token, ...(opts.headers || {}) };
  const r = await fetch(path, { ...opts, headers, cache: 'no-store' });
  let body = null;
  const text = await r.text();
  try { body = JSON.parse(text); } catch (_) { body = text; }
  return { status: r.status, ok: r.ok, body };
}
const errText = b => (b && b.error) || (typeof b === 'string' ? b : JSON.stringify(b));

// ---------------------------------------------------------------- events
function newId(kind) {
  const rnd = crypto.getRandomValues(new Uint8Array(6));
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  return `${cfg.who.author}-${kind}-${stamp}-${Array.from(rnd, b => b.toString(16).padStart(2, '0')).join('')}`;
}
function event(kind, fields) {
  if (!cfg.who) throw new Error('this device has not reached the server since its link was opened');
  return { v: 1, id: newId(kind.replace(/_/g, '-')), time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), author: cfg.who.author, body: { [kind]: fields } };
}
// Stored first, then sent: nothing exists only in memory.
async function enqueue(ev, extra = {}) {
  const rec = { id: ev.id, seq: seqNext++, event: ev, state: 'waiting', created: ev.time, tries: 0, ...extra };
  await put('queue', rec, 'strict');
  queue.unshift(rec);
  render();
  pump();
  return rec;
}

// ---------------------------------------------------------------- sending
const BATCH = 100;
let pumping = false, backoff = 0, wakeTimer = null;
function wakeIn(ms) { clearTimeout(wakeTimer); wakeTimer = setTimeout(() => { wakeTimer = null; pump(); }, ms); }

async function pump() {
  if (pumping || !cfg.token) return;
  // No network at all: nothing to try until the browser says it is back.
  if (navigator.onLine === false) { online = false; problem = null; render(); return; }
  pumping = true;
  try {
    for (;;) {
      const waiting = queue.filter(q => q.state === 'waiting').sort((a, b) => a.seq - b.seq);
      if (!waiting.length) break;
      const r = await send(waiting.slice(0, BATCH));
      if (r === 'stop') return;
      if (r === 'retry') {
        backoff = Math.min(30000, backoff ? backoff * 2 : 1000);
        const wait = backoff / 2 + Math.random() * backoff / 2;
        problem = problem || t('q_retry', Math.round(wait / 1000));
        render();
        wakeIn(wait);
        return;
      }
      backoff = 0; problem = null;
    }
    render();
    receipts();
  } finally { pumping = false; }
}

// One batch: 'ok', 'retry' (network, 5xx, 429, in flight) or 'stop' (the
// token is refused: nothing is dropped, the officer is told what to do).
async function send(batch) {
  let r;
  try {
    r = await api('/api/v1/events', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(batch.map(q => q.event)) });
  } catch (_) { online = false; return 'retry'; }
  online = true;
  if (r.ok) {
    const now = new Date().toISOString();
    batch.forEach((q, i) => Object.assign(q, { state: 'sent', index: r.body.indexes[i], sentAt: q.sentAt || now, reason: null }));
    await putMany('queue', batch);
    receipts();
    return 'ok';
  }
  if (r.status === 401) { problem = t('q_revoked', errText(r.body)); render(); return 'stop'; }
  const inFlight = r.status === 409 && /being appended by a concurrent request/.test(errText(r.body));
  if (r.status >= 500 || r.status === 429 || r.status === 408 || inFlight) return 'retry';
  // Refused (400, 403, 409, 413, 422): find which, one by one.
  if (batch.length > 1) {
    for (const q of batch) { const one = await send([q]); if (one !== 'ok' && one !== 'refused') return one; }
    return 'ok';
  }
  const q = batch[0];
  Object.assign(q, { state: 'refused', reason: `${r.status}: ${errText(r.body)}` });
  await put('queue', q);
  render();
  return 'refused';
}

// ---------------------------------------------------------------- receipts
const enc = new TextEncoder();
const b64d = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));
const b64e = u => btoa(String.fromCharCode(...u));
const cat = (...a) => { const out = new Uint8Array(a.reduce((n, x) => n + x.length, 0)); let o = 0; for (const x of a) { out.set(x, o); o += x.length; } return out; };
const sha256 = async u => new Uint8Array(await crypto.subtle.digest('SHA-256', u));
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// RFC 9162 §2.1.3.2: the root from a leaf hash and its inclusion path.
async function rootFromPath(index, size, leafHash, proof) {
  if (index >= size) return null;
  let fn = index, sn = size - 1, r = leafHash;
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(cat([1], p, r));
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else r = await sha256(cat([1], r, p));
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

// The log's key from the link: `name+hexhash+base64(0x01 ‖ public key)`.
function parseVkey(v) {
  // The name has no '+'; the base64 key may.
  const s = v || '', i = s.indexOf('+');
  const name = i > 0 ? s.slice(0, i) : '', hash = s.slice(i + 1, i + 9), key = s[i + 9] === '+' ? s.slice(i + 10) : '';
  const k = key ? b64d(key) : new Uint8Array();
  if (!name || !/^[0-9a-f]{8}$/.test(hash || '') || k.length !== 33 || k[0] !== 1) throw new Error('the link carries no usable log key');
  return { name, hash: Uint8Array.from(hash.match(/../g), h => parseInt(h, 16)), pub: k.slice(1) };
}

// Whether this browser's WebCrypto has Ed25519 (Chromium 137+, Firefox 129+, Safari 17+).
let ed25519 = null;
async function ed25519Works() {
  if (ed25519 === null) {
    try { await crypto.subtle.importKey('raw', new Uint8Array(32), { name: 'Ed25519' }, false, ['verify']); ed25519 = true; } catch (_) { ed25519 = false; }
  }
  return ed25519;
}

// A C2SP signed note checked with the log's key: {size, root} or an error.
async function openCheckpoint(note, vkey) {
  const cut = note.indexOf('\n\n');
  if (cut < 0) throw new Error('the checkpoint is not a signed note');
  const text = note.slice(0, cut + 1);
  const [origin, size, root] = text.split('\n');
  if (origin !== vkey.name) throw new Error(`the checkpoint is for ${origin}, not this log (${vkey.name})`);
  const key = await crypto.subtle.importKey('raw', vkey.pub, { name: 'Ed25519' }, false, ['verify']);
  for (const line of note.slice(cut + 2).split('\n')) {
    const m = line.match(/^\u2014 (\S+) (\S+)$/);
    if (!m || m[1] !== vkey.name) continue;
    const sig = b64d(m[2]);
    if (sig.length !== 68 || !same(sig.slice(0, 4), vkey.hash)) continue;
    if (await crypto.subtle.verify({ name: 'Ed25519' }, key, sig.slice(4), enc.encode(text))) return { size: Number(size), root: b64d(root) };
  }
  throw new Error('the checkpoint carries no valid signature by the log\'s key');
}

// The stored leaf says what was sent (maps compared by key, absent and
// empty alike, times as instants).
function canon(x) {
  if (Array.isArray(x)) return x.length ? x.map(canon) : undefined;
  if (x && typeof x === 'object') {
    const o = {};
    for (const k of Object.keys(x).sort()) { const v = canon(x[k]); if (v !== undefined) o[k] = (k === 'time' && typeof v === 'string') ? Date.parse(v) : v; }
    return o;
  }
  return x === null || x === '' ? undefined : x;
}
const sameEvent = (a, b) => JSON.stringify(canon(a)) === JSON.stringify(canon(b));

let checking = false, receiptsTimer = null;
function receiptsIn(ms) { clearTimeout(receiptsTimer); receiptsTimer = setTimeout(() => { receiptsTimer = null; receipts(); }, ms); }
async function receipts() {
  if (checking || !cfg.token) return;
  checking = true;
  try {
    for (;;) {
      const sent = queue.filter(q => q.state === 'sent').sort((a, b) => a.index - b.index).slice(0, 1000);
      if (!sent.length) return;
      let r;
      try { r = await api('/api/v1/receipts?indexes=' + sent.map(q => q.index).join(',')); } catch (_) { online = false; receiptsIn(2000); return; }
      if (!r.ok || typeof r.body?.checkpoint !== 'string' || !Array.isArray(r.body.receipts)) { receiptsIn(r.status === 401 ? 30000 : 2000); return; }
      // What this device cannot check is said once and the entries stay
      // "sent"; only a signature or a proof that fails marks them.
      let vkey;
      try { vkey = parseVkey(cfg.key); } catch (e) { problem = t('no_key'); render(); return; }
      if (!crypto.subtle || !(await ed25519Works())) { problem = t('no_crypto'); render(); return; }
      let cp;
      try { cp = await openCheckpoint(r.body.checkpoint, vkey); } catch (e) {
        for (const q of sent) Object.assign(q, { state: 'bad-proof', reason: e.message });
        await putMany('queue', sent); render(); return;
      }
      const byIndex = new Map(sent.map(q => [q.index, q]));
      const done = [];
      for (const rc of r.body.receipts) {
        const q = byIndex.get(rc.index);
        if (!q) continue;
        const leaf = b64d(rc.leaf);
        let ok = false, why = 'the proof does not lead to the signed root';
        try {
          const stored = JSON.parse(new TextDecoder().decode(leaf));
          if (!sameEvent(stored, q.event)) why = `the log holds another event at index ${rc.index}`;
          else {
            const root = await rootFromPath(rc.index, cp.size, await sha256(cat([0], leaf)), rc.proof.map(b64d));
            ok = !!root && same(root, cp.root);
          }
        } catch (e) { why = 'the leaf is not an event: ' + e.message; }
        Object.assign(q, ok ? { state: 'receipt', size: cp.size, receiptAt: new Date().toISOString(), reason: null } : { state: 'bad-proof', reason: why });
        done.push(q);
      }
      if (done.length) await putMany('queue', done);
      render();
      if (r.body.pending?.length) { receiptsIn(1000); return; }
    }
  } finally { checking = false; }
}

// ---------------------------------------------------------------- view
async function refreshView() {
  if (!cfg.who || cfg.who.role !== 'checkpoint') return;
  try {
    const r = await api('/api/v1/checkpoints/' + encodeURIComponent(cfg.who.checkpoint));
    online = true;
    if (r.ok) { view = r.body; await put('view', { k: 'checkpoint', v: view }); }
    else if (r.status === 401) problem = t('q_revoked', errText(r.body));
  } catch (_) { online = false; }
  render();
}

const fmt = (iso, withDate) => {
  const zone = view?.timezone || cfg.zone || 'UTC';
  try { return new Intl.DateTimeFormat(lang === 'ar' ? 'ar-SY-u-nu-latn' : 'en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', ...(withDate ? { day: 'numeric', month: 'short' } : {}) }).format(new Date(iso)); }
  catch (_) { return iso; }
};
const hms = ms => { const s = Math.max(0, Math.round(ms / 1000)); return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`; };

function windowNow() {
  const now = Date.now(), ws = view?.corridor.windows || [];
  const cur = ws.find(w => Date.parse(w.start) <= now && now < Date.parse(w.end));
  if (cur) return { now: true, w: cur, ms: Date.parse(cur.end) - now };
  const next = ws.filter(w => Date.parse(w.start) > now).sort((a, b) => Date.parse(a.start) - Date.parse(b.start))[0];
  return next ? { now: false, w: next, ms: Date.parse(next.start) - now } : null;
}

function statusLine() {
  const w = queue.filter(q => q.state === 'waiting').length, s = queue.filter(q => q.state === 'sent').length;
  const r = queue.filter(q => q.state === 'receipt').length, x = queue.filter(q => q.state === 'refused' || q.state === 'bad-proof').length;
  const bad = queue.filter(q => q.state === 'bad-proof').length;
  const parts = [online ? t('q_online') : t('q_offline'), t('q_summary', w, s, r, x)];
  if (bad) parts.push(t('q_proof_failed', bad));
  if (problem) parts.push(problem);
  $('status').textContent = parts.join(' — ');
  $('status').className = bad || x || problem ? 'alarm' : '';
}

function render() {
  document.documentElement.lang = lang;
  document.documentElement.dir = lang === 'ar' ? 'rtl' : 'ltr';
  $('lang').textContent = lang === 'ar' ? 'English' : 'عربي';
  $('lang').lang = lang === 'ar' ? 'en' : 'ar';
  statusLine();
  $('storage').textContent = storageKept == null ? '' : t(storageKept ? 'storage_kept' : 'storage_refused');
  const screen = $('screen');
  if (!cfg.token) { screen.replaceChildren(el('section', {}, el('p', { text: t('no_link') }))); return; }
  if (cfg.who?.role === 'hq') { renderHq(screen); return; }
  renderCheckpoint(screen);
}

// The screen is made of parts; a part with a signature is rebuilt only
// when it changes (a form being typed into is never replaced under the
// officer's fingers: that would close the keyboard and lose what is typed).
const parts = new Map();
let formEpoch = 0;  // bumped to rebuild a form (after a submit, a tap on an expected vehicle)
function layout(screen, list) {
  const nodes = list.map(([key, sig, make]) => {
    let p = parts.get(key);
    if (!p || sig === null || p.sig !== sig) {
      const node = make();
      if (p && p.node.parentNode === screen) p.node.replaceWith(node);
      p = { node, sig };
      parts.set(key, p);
    }
    return p.node;
  });
  if (nodes.length !== screen.children.length || nodes.some((n, i) => screen.children[i] !== n)) screen.replaceChildren(...nodes);
}

let draft = {};     // the form's values survive re-renders
function renderCheckpoint(screen) {
  if (!view) { layout(screen, [['wait', null, () => el('section', {}, el('p', { text: t('no_view') }))], ['entries', null, renderEntries]]); return; }
  const c = view.corridor, k = view.checkpoint;
  $('title').textContent = `${t('checkpoint')}: ${(lang === 'ar' && k.name_ar) || k.name || k.id}`;
  const wn = windowNow();
  const head = el('section', { 'aria-label': t('corridor') },
    el('h2', {}, `${t('corridor')}: ${(lang === 'ar' && c.name_ar) || c.name} `, el('span', { class: 'badge ' + c.status, id: 'corridor-status', text: t(c.status) })),
    el('p', {}, wn ? `${t(wn.now ? 'window_now' : 'window_next')} ` : t('no_window'), wn ? el('span', { class: 'countdown', id: 'countdown', text: hms(wn.ms) }) : null,
      wn ? el('span', { class: 'muted', text: ` (${fmt(wn.w.start, true)} – ${fmt(wn.w.end, true)}, ${view.timezone})` }) : null));
  // The vehicles expected: the first few as buttons (a tap fills the
  // form), the rest found by typing in Vehicle.
  const mine = new Set(queue.filter(q => q.event.body.passage && q.state !== 'refused').map(q => q.event.body.passage.convoy + ' ' + q.event.body.passage.vehicle));
  const SHOW = 24, ex = view.expected.filter(v => !mine.has(v.convoy + ' ' + v.vehicle));
  const exp = el('section', { class: 'expected', 'aria-label': t('expected') }, el('h2', { text: `${t('expected')} (${ex.length})` }),
    ex.length ? ex.slice(0, SHOW).map(v => el('button', { type: 'button', class: 'small', onclick: () => { draft.vehicle = v.vehicle; draft.convoy = v.convoy; formEpoch++; render(); $('vehicle').focus(); } }, `${v.vehicle} · ${v.convoy}`)) : el('p', { class: 'muted', text: t('none_expected') }),
    ex.length > SHOW ? el('p', { class: 'muted', text: t('more_expected', ex.length - SHOW) }) : null);
  const formSig = JSON.stringify([lang, c.id, c.groups, c.group_labels, view.vehicles.length, formEpoch]);
  layout(screen, [['head', null, () => head], ['form', formSig, () => el('section', {}, passageForm())], ['entries', null, renderEntries], ['expected', null, () => exp], ['tools', lang, tools]]);
}

function vehicleInfo(id) { return view?.vehicles.find(v => v.vehicle === id); }
function convoyOf(id) { return view?.expected.find(v => v.vehicle === id)?.convoy || view?.passages.find(p => p.vehicle === id)?.convoy || ''; }

function passageForm(correcting) {
  const c = view.corridor, d = correcting ? correcting.values : draft;
  const f = el('form', { novalidate: true });
  const field = (id, label, input) => [el('label', { for: id, text: label }), input];
  const vehicle = el('input', { id: correcting ? 'c-vehicle' : 'vehicle', list: 'vehicles', autocomplete: 'off', value: d.vehicle || '', required: true,
    oninput: e => { d.vehicle = e.target.value; const cv = convoyOf(d.vehicle); if (cv) { d.convoy = cv; f.querySelector('[data-f=convoy]').value = cv; } } });
  const list = el('datalist', { id: 'vehicles' }, view.vehicles.map(v => el('option', { value: v.vehicle, label: `${v.kind}, ${v.places} ${t('places')}` })));
  const convoy = el('input', { id: correcting ? 'c-convoy' : 'convoy', 'data-f': 'convoy', value: d.convoy || '', autocomplete: 'off', oninput: e => { d.convoy = e.target.value; } });
  const counts = c.groups.map(g => field((correcting ? 'c-' : 'g-') + g, c.group_labels?.[g] || g,
    el('input', { id: (correcting ? 'c-' : 'g-') + g, type: 'number', inputmode: 'numeric', min: 0, max: 10000000, value: d.counts?.[g] ?? '', oninput: e => { (d.counts ||= {})[g] = e.target.value; } })));
  const wounded = el('input', { id: correcting ? 'c-wounded' : 'wounded', type: 'number', inputmode: 'numeric', min: 0, value: d.wounded ?? '', oninput: e => { d.wounded = e.target.value; } });
  const msg = el('p', { class: 'warn', 'aria-live': 'assertive' });
  f.append(correcting ? null : el('h2', { text: t('record') }),
    ...field(vehicle.id, t('vehicle'), vehicle), list, ...field(convoy.id, t('convoy'), convoy),
    el('div', { class: 'grid' }, counts.map(c => el('div', {}, c))), ...field(wounded.id, t('wounded'), wounded));
  let reason, voidBox;
  if (correcting) {
    reason = el('textarea', { id: 'c-reason', required: true });
    voidBox = el('input', { id: 'c-void', type: 'checkbox', style: 'width:auto;min-height:0' });
    f.append(...field('c-reason', t('reason'), reason), el('label', { for: 'c-void' }, voidBox, ' ', t('void')));
  }
  f.append(msg, el('button', { type: 'submit', class: 'primary', text: correcting ? t('record_correction') : t('record_passage') }));
  let busy = false;
  f.onsubmit = async ev => {
    ev.preventDefault();
    if (busy) return; // a second tap while the first is being kept
    busy = true;
    try { await submitPassage(); } finally { busy = false; }
  };
  const submitPassage = async () => {
    msg.textContent = '';
    const p = { vehicle: vehicle.value.trim(), convoy: convoy.value.trim(), corridor: c.id, checkpoint: view.checkpoint.id, counts: {}, wounded: Number(wounded.value || 0) };
    // Counts are whole numbers of people within what the model takes
    // (checked here, so that an officer offline learns it at once).
    const MAX = 10000000, whole = x => Number.isInteger(x) && x >= 0 && x <= MAX;
    for (const g of c.groups) {
      const input = f.querySelector('#' + CSS.escape((correcting ? 'c-' : 'g-') + g));
      if (input.value === '' && !input.validity.badInput) continue;
      const n = Number(input.value);
      if (input.validity.badInput || !/^\d+$/.test(input.value.trim()) || !whole(n)) { msg.textContent = t('bad_count', c.group_labels?.[g] || g); input.focus(); return; }
      p.counts[g] = n;
    }
    if (wounded.validity.badInput || (wounded.value !== '' && !/^\d+$/.test(wounded.value.trim())) || !whole(p.wounded)) { msg.textContent = t('bad_count', t('wounded')); wounded.focus(); return; }
    const people = Object.values(p.counts).reduce((a, b) => a + b, 0);
    if (p.wounded > people) { msg.textContent = t('bad_wounded', p.wounded, people); wounded.focus(); return; }
    if (correcting) {
      if (!reason.value.trim()) { msg.textContent = t('need_reason'); reason.focus(); return; }
      // A passage corrected before on this device: the chain goes on from its latest correction.
      // (A void names the passage itself: voiding a correction would
      // bring back the passage as first counted.)
      const target = latestCorrection(correcting.rec.id)?.id || correcting.rec.id;
      const body = voidBox.checked ? { corrects: correcting.rec.id, reason: reason.value.trim(), void: true } : { corrects: target, reason: reason.value.trim(), body: { passage: p } };
      try { await enqueue(event('entry_corrected', body)); } catch (e) { msg.textContent = t('not_recorded', e.message); return; }
      closeDialog();
      return;
    }
    if (!vehicleInfo(p.vehicle)) { msg.textContent = t('need_vehicle'); vehicle.focus(); return; }
    if (!p.convoy) { msg.textContent = t('need_convoy'); convoy.focus(); return; }
    if (!Object.keys(p.counts).length) { msg.textContent = t('need_count'); return; }
    const warnings = [];
    const here = [...view.passages, ...queue.filter(q => q.event.body.passage && q.state !== 'refused').map(q => q.event.body.passage)];
    if (here.some(x => x.vehicle === p.vehicle && x.convoy === p.convoy)) warnings.push(t('warn_counted', p.vehicle));
    const total = Object.values(p.counts).reduce((a, b) => a + b, 0), places = vehicleInfo(p.vehicle).places;
    if (total > places) warnings.push(t('warn_places', total, places));
    // The view as it is now (the form may be older than the last halt).
    const now = view.corridor.status;
    if (now !== 'open') warnings.push(t('warn_status', t(now)));
    else if (!windowNow()?.now) warnings.push(t('warn_window'));
    if (warnings.length && !(await confirmDialog(warnings))) return;
    try {
      await enqueue(event('passage', p));
    } catch (e) { msg.textContent = t('not_recorded', e.message); return; }
    draft = {};
    formEpoch++;
    render();
  };
  return f;
}

function confirmDialog(lines) {
  return new Promise(ok => {
    const d = $('confirm');
    $('confirm-title').textContent = t('confirm_title');
    $('confirm-text').replaceChildren(...lines.map(l => el('p', { class: 'warn', text: l })));
    $('confirm-yes').textContent = t('record_anyway');
    $('confirm-no').textContent = t('cancel');
    $('confirm-text').style.display = '';
    $('confirm-yes').hidden = false;
    const done = v => { d.close(); $('confirm-yes').onclick = $('confirm-no').onclick = null; ok(v); };
    $('confirm-yes').onclick = () => done(true);
    $('confirm-no').onclick = () => done(false);
    d.showModal();
  });
}
function closeDialog() { const d = $('confirm'); if (d.open) d.close(); }
function correctDialog(rec) {
  const p = rec.event.body.passage;
  const d = $('confirm');
  $('confirm-title').textContent = `${t('correct')}: ${p.vehicle}`;
  // What the passage says now, with this device's corrections.
  const cur = shownPassage(rec) || p;
  $('confirm-text').replaceChildren(passageForm({ rec, values: { vehicle: cur.vehicle, convoy: cur.convoy, counts: { ...cur.counts }, wounded: cur.wounded } }));
  $('confirm-yes').hidden = true;
  $('confirm-no').textContent = t('cancel');
  $('confirm-no').onclick = () => d.close();
  d.showModal();
}

// The latest correction recorded on this device of entry `id` (following
// chains), not counting refused ones.
function latestCorrection(id) {
  let last = null;
  for (let cur = id, guard = 0; guard < 100; guard++) {
    const next = queue.filter(q => q.state !== 'refused' && q.event.body.entry_corrected?.corrects === cur).sort((a, b) => b.seq - a.seq)[0];
    if (!next) break;
    last = next; cur = next.id;
  }
  return last;
}
// A passage as it stands after this device's corrections: null if voided.
function shownPassage(rec) {
  const c = latestCorrection(rec.id)?.event.body.entry_corrected;
  if (!c) return rec.event.body.passage;
  return c.void ? null : c.body?.passage || rec.event.body.passage;
}
const people = b => Object.values(b.counts).reduce((a, x) => a + x, 0);
function describe(rec) {
  const ev = rec.event;
  const [kind, b] = Object.entries(ev.body)[0];
  if (kind === 'passage') {
    const now = shownPassage(rec);
    const was = `${b.vehicle} · ${b.convoy} · ${people(b)} (${t('wounded')} ${b.wounded || 0})`;
    if (now === b) return was;
    return now ? `${was} → ${people(now)} (${t('wounded')} ${now.wounded || 0}), ${t('corrected')}` : `${was}: ${t('voided')}`;
  }
  if (kind === 'entry_corrected') {
    // Named by the vehicle of the passage it corrects, not its hidden id.
    let target = queue.find(q => q.id === b.corrects);
    while (target?.event.body.entry_corrected) target = queue.find(q => q.id === target.event.body.entry_corrected.corrects);
    const what = target?.event.body.passage?.vehicle || b.corrects;
    return `${t('correct')} ${what}: ${b.reason}`;
  }
  return `${kind}: ${b.convoy || b.incident || b.agreement || b.notice || ''} ${b.kind || ''}`;
}

function renderEntries() {
  // The newest 50 (and every one that needs attention): a long queue stays light.
  const shown = queue.filter((q, i) => i < 50 || q.state === 'refused' || q.state === 'bad-proof');
  return el('section', { 'aria-label': t('entries') }, el('h2', { text: `${t('entries')} (${queue.length})` }),
    el('ul', { class: 'entries', id: 'entries' }, shown.map(q => el('li', { class: q.state, 'data-id': q.id, 'data-state': q.state },
      el('span', { class: 'what' }, describe(q), el('br'), el('span', { class: 'muted', text: `${fmt(q.event.time, true)}` + (q.index != null ? ` · ${t('index')} ${q.index}` : '') })),
      el('span', { class: 'state-' + q.state, text: t(q.state) + (q.reason ? `: ${q.reason}` : '') }),
      (q.state === 'sent' || q.state === 'receipt') && q.event.body.passage && shownPassage(q) && view ? el('button', { type: 'button', class: 'small', onclick: () => correctDialog(q), text: t('correct') }) : null,
      q.state === 'refused' && q.event.body.passage ? el('button', { type: 'button', class: 'small', text: t('edit'), onclick: async () => { const p = q.event.body.passage; draft = { vehicle: p.vehicle, convoy: p.convoy, counts: { ...p.counts }, wounded: p.wounded }; formEpoch++; await discard(q); window.scrollTo(0, 0); } }) : null,
      q.state === 'refused' ? el('button', { type: 'button', class: 'small', text: t('discard'), onclick: () => discard(q) }) : null))));
}
async function discard(q) { await del('queue', q.id); queue = queue.filter(x => x !== q); render(); }

function tools() {
  const file = el('input', { type: 'file', id: 'import-file', accept: '.jsonl,.json,application/json', hidden: true, onchange: e => importQueue(e.target.files[0]) });
  return el('section', {},
    el('div', { class: 'row' }, el('button', { type: 'button', id: 'export', text: t('export'), onclick: exportQueue }), el('button', { type: 'button', text: t('import'), onclick: () => file.click() }), file),
    el('p', { class: 'muted', text: `${t('version')} ${VERSION}` }));
}

// What is not yet proven in the signed log (waiting, sent, or whose proof
// failed), as JSON lines that `corridor log append` (or this app on
// another device) accepts; resends are safe. Refused entries stay here to
// be corrected.
function exportQueue() {
  const lines = queue.filter(q => q.state === 'waiting' || q.state === 'sent' || q.state === 'bad-proof').sort((a, b) => a.seq - b.seq).map(q => JSON.stringify(q.event) + '\n');
  const a = el('a', { href: URL.createObjectURL(new Blob(lines, { type: 'application/x-ndjson' })), download: `corridor-queue-${cfg.who?.author || 'device'}-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.jsonl` });
  document.body.append(a); a.click(); a.remove();
}
async function importQueue(f) {
  if (!f) return;
  const known = new Set(queue.map(q => q.id));
  let n = 0;
  for (const line of (await f.text()).split('\n')) {
    if (!line.trim()) continue;
    let ev; try { ev = JSON.parse(line); } catch (_) { continue; }
    const kinds = ev && typeof ev.body === 'object' && ev.body ? Object.keys(ev.body) : [];
    if (ev?.v !== 1 || typeof ev.id !== 'string' || typeof ev.time !== 'string' || typeof ev.author !== 'string' || kinds.length !== 1 || typeof ev.body[kinds[0]] !== 'object' || known.has(ev.id)) continue;
    if (kinds[0] === 'passage' && (typeof ev.body.passage.counts !== 'object' || !ev.body.passage.counts)) continue;
    const rec = { id: ev.id, seq: seqNext++, event: ev, state: 'waiting', created: ev.time, tries: 0 };
    await put('queue', rec); queue.unshift(rec); known.add(ev.id); n++;
  }
  problem = t('imported', n);
  render(); pump();
}

// ---------------------------------------------------------------- HQ
let hqTab = 'dispatch', hqData = null;
async function refreshHq() {
  try {
    const s = await api('/api/v1/public/summary');
    const cs = await api('/api/v1/convoys');
    if (s.ok && cs.ok) hqData = { corridors: s.body.corridors, convoys: cs.body };
    if (hqData && !hqData.vehicles) {
      const k = hqData.corridors[0]?.checkpoints[0]?.id;
      if (k) { const v = await api('/api/v1/checkpoints/' + encodeURIComponent(k)); if (v.ok) { hqData.vehicles = v.body.vehicles; cfg.zone = v.body.timezone; } }
    }
    online = true;
  } catch (_) { online = false; }
  render();
}
const HQ_FORMS = {
  open: ['corridor_opened', [['corridor', 'corridors']]],
  close: ['corridor_closed', [['corridor', 'corridors'], ['reason', 'area?']]],
  dispatch: ['convoy_dispatched', [['convoy', 'text'], ['corridor', 'corridors'], ['vehicles', 'list']]],
  incident: ['incident', [['incident', 'text'], ['kind', ['halt', 'attack', 'vehicle_lost', 'road_closed', 'resumed']], ['corridor', 'corridors?'], ['convoy', 'convoys?'], ['site', 'text?'], ['vehicles', 'list?'], ['killed', 'number'], ['description', 'area']]],
  agreement: ['agreement', [['agreement', 'text'], ['sites', 'list'], ['terms', 'area']]],
  notice: ['notice_issued', [['notice', 'text'], ['channel', ['sms', 'cap', 'leaflet', 'loudspeaker']], ['language', ['ar', 'en']], ['corridor', 'corridors?'], ['window', 'text?'], ['references', 'text?'], ['recipients', 'number'], ['content', 'area']]],
};
function renderHq(screen) {
  $('title').textContent = t('hq');
  const lists = { corridors: hqData?.corridors.map(c => c.id) || [], convoys: hqData?.convoys.map(c => c.convoy) || [] };
  // The corridors as they stand, so HQ sees what a form will change.
  const now = el('section', { 'aria-label': t('corridors_now') }, el('h2', { text: t('corridors_now') }),
    (hqData?.corridors || []).map(c => el('p', {}, `${(lang === 'ar' && c.name_ar) || c.name} (${c.id}) `, el('span', { class: 'badge ' + c.status, 'data-corridor': c.id, text: t(c.status) }))));
  layout(screen, [['now', null, () => now], ['hq', JSON.stringify([lang, hqTab, formEpoch]), hqForm], ['entries', null, renderEntries], ['tools', lang, tools]]);
  // The suggestions follow the log without rebuilding the form.
  for (const [id, items] of [['hq-corridor-list', lists.corridors], ['hq-convoy-list', lists.convoys]]) {
    const dl = $(id);
    if (dl && dl.children.length !== items.length) dl.replaceChildren(...items.map(v => el('option', { value: v })));
  }
}

function hqForm() {
  const tabs = el('nav', { class: 'tabs', 'aria-label': t('hq') }, Object.keys(HQ_FORMS).map(k => el('button', { type: 'button', 'aria-pressed': String(hqTab === k), onclick: () => { hqTab = k; render(); }, text: t('k_' + k) })));
  const [kind, fields] = HQ_FORMS[hqTab];
  const f = el('form', { novalidate: true, id: 'hq-form' });
  for (const [name, type] of fields) {
    const id = 'hq-' + name, opt = typeof type === 'string' && type.endsWith('?');
    const base = typeof type === 'string' ? type.replace('?', '') : type;
    let input;
    if (Array.isArray(base)) input = el('select', { id, name }, base.map(v => el('option', { value: v, text: v })));
    else if (base === 'area') input = el('textarea', { id, name, required: !opt });
    else if (base === 'number') input = el('input', { id, name, type: 'number', inputmode: 'numeric', min: 0, value: 0 });
    else if (base === 'corridors' || base === 'convoys') input = el('input', { id, name, list: id + '-list', autocomplete: 'off', required: !opt });
    else input = el('input', { id, name, autocomplete: 'off', required: !opt, placeholder: base === 'list' ? 'a, b, c' : null });
    // The accessible name is the API's field name; the hint says it in words.
    const hint = el('span', { class: 'muted', id: id + '-hint', text: t('h_' + name) });
    input.setAttribute('aria-describedby', hint.id);
    f.append(el('label', { for: id, text: name }), hint, input);
    if (base === 'corridors' || base === 'convoys') f.append(el('datalist', { id: id + '-list' }));
  }
  const msg = el('p', { class: 'warn', 'aria-live': 'assertive' });
  f.append(msg, el('button', { type: 'submit', class: 'primary', text: `${t('send')}: ${t('k_' + hqTab)}` }));
  f.onsubmit = async ev => {
    ev.preventDefault();
    const body = {};
    for (const [name, type] of fields) {
      const v = f.elements[name].value.trim(), base = typeof type === 'string' ? type.replace('?', '') : type;
      if (!v) { if (typeof type === 'string' && type.endsWith('?')) continue; if (base !== 'number') { msg.textContent = t('need_field', name); f.elements[name].focus(); return; } }
      if (name === 'content') { body.content_sha256 = Array.from(await sha256(enc.encode(v)), b => b.toString(16).padStart(2, '0')).join(''); continue; }
      body[name] = base === 'list' ? v.split(/[,\s]+/).filter(Boolean) : base === 'number' ? Number(v || 0) : v;
    }
    try { await enqueue(event(kind, body)); } catch (e) { msg.textContent = t('not_recorded', e.message); return; }
    f.reset();
    msg.textContent = '';
  };
  return el('section', {}, el('p', { class: 'muted', text: t('hq_note') }), tabs, f);
}

// ---------------------------------------------------------------- start
async function adoptLink() {
  // The link carries the token and the log's key in its fragment, which
  // browsers never send to a server; it is kept on the device and
  // removed from the address bar.
  const h = new URLSearchParams(location.hash.slice(1));
  if (!h.get('token')) return;
  await setConfig('token', h.get('token'));
  if (h.get('key')) await setConfig('key', h.get('key'));
  // The device's former identity stays until the server names the new one.
  history.replaceState(null, '', location.pathname);
}

async function whoami() {
  if (!cfg.token) return;
  try {
    const r = await api('/api/v1/whoami');
    online = true;
    if (r.ok) { cfg.who = r.body; await setConfig('who', r.body); problem = null; }
    else if (r.status === 401) problem = t('q_revoked', errText(r.body));
  } catch (_) { online = false; }
}

let feed = null;
function connectFeed() {
  if (feed) feed.close();
  feed = new EventSource('/api/v1/feed');
  feed.addEventListener('summary', () => { if (cfg.who?.role === 'checkpoint') refreshView(); else refreshHq(); });
  feed.onopen = () => { online = true; pump(); receipts(); };
  feed.onerror = () => {
    online = navigator.onLine && online;
    statusLine();
    // The browser gives up after an error answer (a 429, a proxy's 502): start again.
    if (feed.readyState === EventSource.CLOSED) { clearTimeout(feedTimer); feedTimer = setTimeout(connectFeed, 5000); }
  };
}
let feedTimer = null;

async function start() {
  await openDb();
  await adoptLink();
  cfg.token = await config('token');
  cfg.key = await config('key');
  cfg.who = await config('who');
  lang = (await config('lang')) || (navigator.language?.startsWith('ar') ? 'ar' : 'en');
  view = (await getAll('view')).find(v => v.k === 'checkpoint')?.v || null;
  await loadQueue();
  seqNext = Math.max(seqNext, ...queue.map(q => q.seq + 1));
  // A closed dialog leaves no form behind.
  $('confirm').addEventListener('close', () => $('confirm-text').replaceChildren());
  $('lang').onclick = async () => { lang = lang === 'ar' ? 'en' : 'ar'; await setConfig('lang', lang); render(); };
  render();
  if (navigator.storage?.persist) {
    storageKept = (await navigator.storage.persisted()) || (await navigator.storage.persist().catch(() => false));
    render();
  }
  if ('serviceWorker' in navigator) {
    const had = !!navigator.serviceWorker.controller;
    navigator.serviceWorker.addEventListener('controllerchange', () => { if (had) { problem = t('updated'); location.reload(); } });
    navigator.serviceWorker.register('/field/sw.js', { scope: '/field/' }).catch(() => {});
  }
  await whoami();
  if (cfg.who?.role === 'checkpoint') await refreshView(); else if (cfg.who) await refreshHq();
  // A new link opened on a device where the app is open: take it.
  window.addEventListener('hashchange', () => { if (location.hash.includes('token=')) location.reload(); });
  window.addEventListener('online', () => { online = true; backoff = 0; pump(); receipts(); refreshView(); });
  window.addEventListener('offline', () => { online = false; render(); });
  setInterval(() => { const c = $('countdown'); const wn = windowNow(); if (c && wn) c.textContent = hms(wn.ms); }, 1000);
  // A foreground loop: whatever waits is tried again (Background Sync is
  // Chromium's alone).
  setInterval(() => { if (queue.some(q => q.state === 'waiting') && !wakeTimer) pump(); if (queue.some(q => q.state === 'sent') && !receiptsTimer) receipts(); }, 5000);
  // The view again every 30 s, whatever the feed does.
  setInterval(() => { if (cfg.who?.role === 'checkpoint') refreshView(); else if (cfg.who) refreshHq(); }, 30000);
  if (cfg.token) connectFeed();
  pump(); receipts();
}
start().catch(e => { $('status').textContent = 'The app could not start: ' + e.message; $('status').className = 'alarm'; });
