// The field app's service worker: the app's files from the cache first,
// so the app opens with no network; each version is its own cache, and a
// new version takes over at once (entries live in IndexedDB, never here).
const CACHE = 'corridor-field-__VERSION__';
const SHELL = ['/field/', '/field/app.js', '/field/manifest.webmanifest', '/field/icon.svg'];

self.addEventListener('install', e => {
  e.waitUntil(caches.open(CACHE).then(c => c.addAll(SHELL.map(u => new Request(u, { cache: 'reload' })))).then(() => self.skipWaiting()));
});

self.addEventListener('activate', e => {
  e.waitUntil(caches.keys().then(keys => Promise.all(keys.filter(k => k.startsWith('corridor-field-') && k !== CACHE).map(k => caches.delete(k)))).then(() => self.clients.claim()));
});

self.addEventListener('fetch', e => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin) return;
  const path = url.pathname === '/field' ? '/field/' : url.pathname;
  if (!SHELL.includes(path)) return; // the API is never cached here
  e.respondWith(caches.open(CACHE).then(c => c.match(path).then(hit => hit || fetch(e.request))));
});
