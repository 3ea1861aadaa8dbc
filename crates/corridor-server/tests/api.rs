//! The HTTP API in process, as axum's `examples/testing` does it: requests
//! sent with `tower::ServiceExt::oneshot` to `corridor_server::app(...)`
//! over a real ledger, on SQLite and, when DATABASE_URL is set, PostgreSQL
//! (a fresh schema per test). They pin the API's statuses and error texts:
//! 401 and 403, a write and its reads, bad bodies (400, 413), a conflict
//! (409) and refusals by the model (422). A refused write leaves the log as
//! it was.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use corridor_ledger::note::Signer;
use corridor_ledger::store::postgres::{drop_schema, PostgresStore};
use corridor_ledger::store::sqlite::SqliteStore;
use corridor_ledger::store::Store;
use corridor_ledger::Ledger;
use corridor_server::{app, AppState, Options, Role, TokenStore};
use serde_json::{json, Value};
use tower::ServiceExt as _;

/// Where a test's log is kept.
enum Backend {
    Sqlite,
    Postgres { url: String, schema: String },
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }
}

/// SQLite, and PostgreSQL (a schema of its own) when DATABASE_URL is set.
fn backends(tag: &str) -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    if let Some(url) = corridor_testkit::database_url() {
        v.push(Backend::Postgres { url, schema: corridor_testkit::unique_schema(&format!("api_{tag}")) });
    }
    v
}

/// Drops a test's PostgreSQL schema when the test ends, however it ends.
struct DropSchema(Option<(String, String)>);

impl Drop for DropSchema {
    fn drop(&mut self) {
        if let Some((url, schema)) = &self.0 {
            if let Err(e) = drop_schema(url, schema) {
                eprintln!("cannot drop the test schema {schema}: {e}");
            }
        }
    }
}

/// The model's example operation (Monaco) up to its convoy's dispatch: a
/// corridor with checkpoint `cp-port`, vehicle `bus-07` in `convoy-01`.
fn seed_events() -> Vec<corridor_model::Event> {
    let all = corridor_model::examples();
    let end = all.iter().position(|e| matches!(e.body, corridor_model::Body::ConvoyDispatched(_))).expect("the examples dispatch a convoy");
    let mut events = vec![corridor_model::example_destination()];
    events.extend_from_slice(&all[..=end]);
    events
}

/// An answer: its status, headers and body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// `{"error": "…"}`'s message.
    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_else(|| panic!("no error message: {}", self.text)).to_string()
    }
}

/// The app over a fresh log holding [`seed_events`], with a token of each
/// role; requests go to it in process.
struct Api {
    backend: &'static str,
    rt: tokio::runtime::Runtime,
    app: Router,
    state: Arc<AppState>,
    tokens: Arc<TokenStore>,
    hq: String,
    /// A checkpoint token for `cp-port`.
    cp: String,
    monitor: String,
    _dir: tempfile::TempDir,
    // Last: dropped after everything holding a connection to the schema.
    _schema: DropSchema,
}

impl Api {
    fn new(backend: Backend) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::generate("test.invalid/api").unwrap();
        let name = backend.name();
        let (writer, reader, tokens, options, schema): (Box<dyn Store>, Box<dyn Store>, _, _, _) = match backend {
            Backend::Sqlite => {
                let path = dir.path().join("ledger.sqlite");
                (Box::new(SqliteStore::open(&path).unwrap()), Box::new(SqliteStore::open(&path).unwrap()), TokenStore::open(dir.path()), Options::default(), DropSchema(None))
            }
            Backend::Postgres { url, schema } => (
                Box::new(PostgresStore::connect(&url, &schema).unwrap()),
                Box::new(PostgresStore::connect(&url, &schema).unwrap()),
                TokenStore::postgres(dir.path(), &url, &schema),
                Options { database: Some((url.clone(), schema.clone())), ..Options::default() },
                DropSchema(Some((url, schema))),
            ),
        };
        let ledger = Ledger::open(writer, reader, signer).unwrap();
        ledger.append(seed_events()).unwrap();
        let tokens = Arc::new(tokens);
        let hq = tokens.create(Role::Hq, None, None, None).unwrap().0;
        let cp = tokens.create(Role::Checkpoint, Some("cp-port".into()), None, None).unwrap().0;
        let monitor_key = Signer::generate("monitor.test.invalid").unwrap().verifier().to_vkey();
        let monitor = tokens.create(Role::Monitor, None, Some(monitor_key), None).unwrap().0;
        // The state's own store of the same tokens (TokenStore is not Clone).
        let served_tokens = match &options.database {
            None => TokenStore::open(dir.path()),
            Some((url, schema)) => TokenStore::postgres(dir.path(), url, schema),
        };
        let state = AppState::new(Arc::new(ledger), served_tokens, options, dir.path()).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        Api { backend: name, rt, app: app(state.clone()), state, tokens, hq, cp, monitor, _dir: dir, _schema: schema }
    }

    /// Sends `req` (from a loopback client address) and reads the answer.
    fn call(&self, mut req: Request<Body>) -> Answer {
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        self.rt.block_on(async {
            let r = self.app.clone().oneshot(req).await.expect("the router answers");
            let (parts, body) = r.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("the body reads");
            Answer { status: parts.status, headers: parts.headers, text: String::from_utf8_lossy(&bytes).into_owned() }
        })
    }

    /// `method path` with `token` (if any) and a JSON `body` (if any).
    fn send(&self, method: Method, path: &str, token: Option<&str>, body: impl Into<Body>) -> Answer {
        let mut req = Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.call(req.body(body.into()).unwrap())
    }

    fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.send(Method::GET, path, token, Body::empty())
    }

    fn post(&self, token: Option<&str>, body: impl Into<Body>) -> Answer {
        self.send(Method::POST, "/api/v1/events", token, body)
    }

    /// A write refused with `status`: its message; the log unchanged.
    fn refused(&self, token: Option<&str>, body: impl Into<Body>, status: StatusCode) -> String {
        let before = self.state.ledger.len();
        let a = self.post(token, body);
        assert_eq!(a.status, status, "{}: {}", self.backend, a.text);
        assert_eq!(self.state.ledger.len(), before, "{}: a refused write changed the log", self.backend);
        a.error()
    }

    /// Folds what was appended into the served views (the follower's job
    /// in `corridor serve`), off the async runtime.
    fn catch_up(&self) {
        self.state.catch_up().unwrap();
    }
}

/// A passage of `bus-07` in `convoy-01` at `checkpoint`, written as `author`.
fn passage(id: &str, author: &str, checkpoint: &str) -> Value {
    json!({
        "v": 1, "id": id, "time": "2026-03-14T07:41:00Z", "author": author,
        "body": {"passage": {"vehicle": "bus-07", "convoy": "convoy-01", "corridor": "condamine-fontvieille", "checkpoint": checkpoint, "counts": {"women": 14, "children": 19}, "wounded": 0}}
    })
}

#[test]
fn no_or_a_bad_token_is_401_and_a_wrong_role_or_scope_is_403() {
    for b in backends("auth") {
        let s = Api::new(b);
        let name = s.backend;
        let e = passage("p-auth", "cp-port", "cp-port").to_string();

        // 401: no token, another scheme, an unknown, an expired and a revoked token.
        let a = s.post(None, e.clone());
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}: {}", a.text);
        assert_eq!(a.headers.get(header::WWW_AUTHENTICATE).map(|v| v.to_str().unwrap()), Some("Bearer"), "{name}");
        assert!(a.error().contains("writing events needs a token (`Authorization: Bearer TOKEN`"), "{name}: {}", a.text);
        let r = Request::post("/api/v1/events").header(header::AUTHORIZATION, "Basic aHE6aHE=").body(Body::from(e.clone())).unwrap();
        let a = s.call(r);
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}: {}", a.text);
        assert!(a.error().contains("use `Authorization: Bearer TOKEN`"), "{name}: {}", a.text);
        let msg = s.refused(Some("crd_hq_made-up"), e.clone(), StatusCode::UNAUTHORIZED);
        assert!(msg.contains("no such token"), "{name}: {msg}");
        let (expired, rec) = s.tokens.create(Role::Checkpoint, Some("cp-port".into()), None, Some(chrono::Utc::now() - chrono::Duration::hours(1))).unwrap();
        let msg = s.refused(Some(&expired), e.clone(), StatusCode::UNAUTHORIZED);
        assert!(msg.contains(&format!("token {} expired at", rec.id)) && msg.contains("ask HQ for a new one"), "{name}: {msg}");
        let (revoked, rec) = s.tokens.create(Role::Hq, None, None, None).unwrap();
        assert_eq!(s.get("/api/v1/figures", Some(&revoked)).status, StatusCode::OK, "{name}");
        s.tokens.revoke(&rec.id).unwrap();
        let a = s.get("/api/v1/figures", Some(&revoked));
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}: {}", a.text);
        assert!(a.error().contains(&format!("token {} was revoked at", rec.id)), "{name}: {}", a.text);
        let a = s.get("/api/v1/figures", None);
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}: {}", a.text);
        assert!(a.error().contains("the full figures needs a token"), "{name}: {}", a.text);

        // 403: a role that may not read this, another checkpoint's view, a
        // write outside the token's scope, a monitor writing operations.
        let a = s.get("/api/v1/figures", Some(&s.cp));
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{name}: {}", a.text);
        assert_eq!(a.error(), "the full figures needs the role hq or monitor; this token is a checkpoint token", "{name}");
        let a = s.get("/api/v1/events?from=0&to=1", Some(&s.cp));
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{name}: {}", a.text);
        assert!(a.error().contains("reading events needs the role hq or monitor"), "{name}: {}", a.text);
        let a = s.get("/api/v1/checkpoints/cp-stade", Some(&s.cp));
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{name}: {}", a.text);
        assert!(a.error().contains("this token is for checkpoint \"cp-port\": it reads that checkpoint's view only"), "{name}: {}", a.text);
        let msg = s.refused(Some(&s.cp), passage("p-stade", "cp-port", "cp-stade").to_string(), StatusCode::FORBIDDEN);
        assert!(msg.contains("it lacks the scope checkpoint:cp-stade"), "{name}: {msg}");
        let msg = s.refused(Some(&s.cp), passage("p-as-hq", "hq", "cp-port").to_string(), StatusCode::FORBIDDEN);
        assert!(msg.contains("this token writes as \"cp-port\""), "{name}: {msg}");
        let dispatch = json!({"v": 1, "id": "cv-by-cp", "time": "2026-03-14T07:10:00Z", "author": "cp-port",
            "body": {"convoy_dispatched": {"convoy": "convoy-x", "corridor": "condamine-fontvieille", "vehicles": ["bus-07"]}}});
        let msg = s.refused(Some(&s.cp), dispatch.to_string(), StatusCode::FORBIDDEN);
        assert!(msg.contains("needs an hq token"), "{name}: {msg}");
        let msg = s.refused(Some(&s.monitor), passage("p-monitor", "monitor", "cp-port").to_string(), StatusCode::FORBIDDEN);
        assert!(msg.contains("monitor token cannot write operational events"), "{name}: {msg}");

        // The public endpoints need no token.
        for p in ["/api/v1/public/summary", "/api/v1/public/notices", "/api/v1/checkpoint", "/api/v1/health"] {
            assert_eq!(s.get(p, None).status, StatusCode::OK, "{name}: {p}");
        }
    }
}

#[test]
fn a_write_is_201_a_resend_200_and_reads_show_it() {
    for b in backends("write") {
        let s = Api::new(b);
        let name = s.backend;
        let before = s.state.ledger.len();
        let e = passage("p-write", "cp-port", "cp-port");
        let a = s.post(Some(&s.cp), e.to_string());
        assert_eq!(a.status, StatusCode::CREATED, "{name}: {}", a.text);
        assert_eq!(a.json(), json!({"indexes": [before], "new": 1, "size": before + 1}), "{name}");
        assert_eq!(s.state.ledger.len(), before + 1, "{name}");
        // The same event again (a retry after a lost answer): 200, its index, nothing written.
        let a = s.post(Some(&s.cp), e.to_string());
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.text);
        assert_eq!(a.json(), json!({"indexes": [before], "new": 0, "size": before + 1}), "{name}");
        // A batch as JSON lines: the stored one keeps its index, the new one is appended.
        let aid = json!({"v": 1, "id": "drop-1", "time": "2026-03-14T09:00:00Z", "author": "hq",
            "body": {"airdrop": {"airdrop": "drop-1", "position": {"lat": 43.73, "lon": 7.42}, "contents": "water", "tonnes": 1.5, "recovered": true}}});
        let stored = serde_json::to_string(&seed_events()[1]).unwrap();
        let a = s.post(Some(&s.hq), format!("{aid}\n{stored}\n"));
        assert_eq!(a.status, StatusCode::CREATED, "{name}: {}", a.text);
        assert_eq!(a.json(), json!({"indexes": [before + 1, 1], "new": 1, "size": before + 2}), "{name}");

        // Read back by index: the event as sent, with its leaf and hash.
        let a = s.get(&format!("/api/v1/events?from={before}"), Some(&s.monitor));
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.text);
        let v = a.json();
        assert_eq!(v["size"], before + 2, "{name}");
        let entries = v["entries"].as_array().unwrap();
        assert_eq!(entries.iter().map(|x| x["index"].as_u64().unwrap()).collect::<Vec<_>>(), [before, before + 1], "{name}");
        assert_eq!(entries[0]["event"], e, "{name}");
        assert_eq!(entries[1]["event"]["id"], "drop-1", "{name}");
        assert!(entries[0]["leaf"].is_string() && entries[0]["leaf_hash"].is_string(), "{name}: {}", entries[0]);
        // The checkpoint's own view catches up as it is read.
        let a = s.get("/api/v1/checkpoints/cp-port", Some(&s.cp));
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.text);
        assert_eq!(a.json()["passages"][0]["id"], "p-write", "{name}: {}", a.text);
        assert_eq!(s.get("/api/v1/checkpoints/cp-nowhere", Some(&s.hq)).status, StatusCode::NOT_FOUND, "{name}");
        // The other views once folded.
        s.catch_up();
        let a = s.get("/api/v1/convoys/convoy-01", Some(&s.hq));
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.text);
        assert_eq!(a.json()["convoy"], "convoy-01", "{name}");
        let a = s.get("/api/v1/convoys/convoy-99", Some(&s.hq));
        assert_eq!((a.status, a.error()), (StatusCode::NOT_FOUND, "no convoy \"convoy-99\" in the log".to_string()), "{name}");
        let a = s.get("/api/v1/whoami", Some(&s.cp));
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.text);
        assert_eq!((a.json()["role"].clone(), a.json()["checkpoint"].clone()), (json!("checkpoint"), json!("cp-port")), "{name}");
        let a = s.get("/api/v1/checkpoint", None);
        assert!(a.text.starts_with(&format!("test.invalid/api\n{}\n", before + 2)), "{name}: the signed checkpoint covers the write: {}", a.text);
        let a = s.get("/api/v1/nowhere", None);
        assert_eq!((a.status, a.error()), (StatusCode::NOT_FOUND, "no such endpoint: see /openapi.json".to_string()), "{name}");
    }
}

#[test]
fn bad_bodies_and_queries_are_400_and_a_big_body_413() {
    for b in backends("body") {
        let s = Api::new(b);
        let name = s.backend;
        let hq = Some(s.hq.as_str());
        let msg = s.refused(hq, r#"{"v": 1, "id": "x", "#, StatusCode::BAD_REQUEST);
        assert!(msg.contains("line 1"), "{name}: the message says where: {msg}");
        let msg = s.refused(hq, "this is not JSON", StatusCode::BAD_REQUEST);
        assert!(msg.contains("expected") || msg.contains("JSON"), "{name}: {msg}");
        let msg = s.refused(hq, "", StatusCode::BAD_REQUEST);
        assert!(msg.contains("no events in the body"), "{name}: {msg}");
        let msg = s.refused(hq, vec![0xff, 0xfe, b'{'], StatusCode::BAD_REQUEST);
        assert_eq!(msg, "the body is not UTF-8 text", "{name}");
        let mut e = passage("p-wrong-count", "hq", "cp-port");
        e["body"]["passage"]["counts"]["women"] = json!("two");
        let msg = s.refused(hq, e.to_string(), StatusCode::BAD_REQUEST);
        assert!(msg.contains("invalid type") && msg.contains("counts"), "{name}: the message names the field: {msg}");
        // Over 1 MiB: 413, saying what to do.
        let big = format!("[{}]", vec![passage("p", "hq", "cp-port").to_string(); 6000].join(","));
        assert!(big.len() > 1 << 20);
        let msg = s.refused(hq, big, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(msg.contains("1 MiB") && msg.contains("send fewer events per request"), "{name}: {msg}");
        // A bad query is a JSON 400 too; a missing token is still a 401 first.
        let a = s.get("/api/v1/events?from=first", hq);
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{name}: {}", a.text);
        assert!(a.error().contains("see the parameters in /openapi.json"), "{name}: {}", a.text);
        assert_eq!(s.get("/api/v1/events?from=first", None).status, StatusCode::UNAUTHORIZED, "{name}");
        let size = s.state.ledger.len();
        let a = s.get(&format!("/api/v1/events?from={}", size + 1), hq);
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{name}: {}", a.text);
        assert_eq!(a.error(), format!("from={} is beyond the log's {size} entries", size + 1), "{name}");
        let a = s.get("/api/v1/events?from=3&to=2", hq);
        assert_eq!((a.status, a.error()), (StatusCode::BAD_REQUEST, "to=2 is before from=3".to_string()), "{name}");
    }
}

#[test]
fn a_reused_id_is_409_and_what_the_model_refuses_422() {
    for b in backends("conflict") {
        let s = Api::new(b);
        let name = s.backend;
        let hq = Some(s.hq.as_str());
        // An id already in the log with other content: 409, saying what to do.
        let mut other = serde_json::to_value(&seed_events()[1]).unwrap();
        other["time"] = json!("2026-01-01T00:00:00Z");
        let msg = s.refused(hq, other.to_string(), StatusCode::CONFLICT);
        assert!(msg.contains("event #0: id \"hq-operation\" is already in the log at index 1 as a different event"), "{name}: {msg}");
        assert!(msg.contains("nothing from this batch was appended") && msg.contains("entry_corrected"), "{name}: {msg}");
        // …also as the second event of a batch whose first is new.
        let aid = json!({"v": 1, "id": "drop-2", "time": "2026-03-14T09:00:00Z", "author": "hq",
            "body": {"airdrop": {"airdrop": "drop-2", "position": {"lat": 43.73, "lon": 7.42}, "contents": "water", "tonnes": 1.5, "recovered": true}}});
        let msg = s.refused(hq, json!([aid, other]).to_string(), StatusCode::CONFLICT);
        assert!(msg.starts_with("event #1: id \"hq-operation\""), "{name}: {msg}");
        // Refused by the model: a vehicle no one registered.
        let mut e = passage("p-ghost", "cp-port", "cp-port");
        e["body"]["passage"]["vehicle"] = json!("bus-99");
        let msg = s.refused(Some(&s.cp), e.to_string(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(msg.contains("bus-99"), "{name}: {msg}");
        // Dated in the server's future (a typo in the year).
        let mut future = aid.clone();
        future["time"] = json!("2099-12-03T10:00:00Z");
        let msg = s.refused(hq, future.to_string(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(msg.contains("ahead of this server's clock") && msg.contains("2099-12-03T10:00:00Z"), "{name}: {msg}");
        // The same vehicle counted twice at one checkpoint in one trip.
        assert_eq!(s.post(Some(&s.cp), passage("p-first", "cp-port", "cp-port").to_string()).status, StatusCode::CREATED, "{name}");
        let msg = s.refused(Some(&s.cp), passage("p-again", "cp-port", "cp-port").to_string(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(msg.contains("already counted"), "{name}: {msg}");
    }
}
