//! The HTTP API (`/api/v1`), the live feed, the OpenAPI document and the
//! dashboard's files.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt as _;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::auth::{authenticate, bearer, limited, AnyRole, Auth, HqOrMonitor, MonitorOnly, Public};
pub use crate::error::{ApiError, ApiResult, ErrorBody, MAX_BODY};
use crate::error::blocking;
use crate::fold::{PublicNotice, PublicSummary};
use crate::tokens::{AuthError, Role};
use crate::AppState;

/// Most events one read returns.
pub const MAX_PAGE: u64 = 1000;

type St = State<Arc<AppState>>;

/// Log indexes and sizes are at most 2^63 − 1 (`format: int64`).
fn index_param(name: &str, v: Option<u64>) -> ApiResult<Option<u64>> {
    match v {
        Some(n) if n > i64::MAX as u64 => Err(ApiError::BadRequest(format!("{name}={n} is beyond any log (at most {})", i64::MAX))),
        v => Ok(v),
    }
}

fn json_text(s: Arc<str>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], s.to_string()).into_response()
}

/// Events appended (201), or all already in the log (200).
#[derive(Debug, Serialize, ToSchema)]
pub struct Appended {
    /// Each event's index in the log, in the order sent (an event already
    /// in the log, resent with the same content, keeps its original index).
    pub indexes: Vec<u64>,
    /// How many of them were newly appended.
    pub new: u64,
    /// The log's size after the append.
    pub size: u64,
}

/// The body of `POST /api/v1/events`: one event, or a JSON array of events
/// (all or nothing). The schema of an event is the model's
/// (`corridor_model::reference::schemas`: every kind and field); whether
/// an event is accepted also depends on the log (a passage names a
/// declared corridor, checkpoint, vehicle and convoy), which no schema can
/// say: see docs/events.md.
pub struct EventBatch;

impl utoipa::PartialSchema for EventBatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder, Ref};
        OneOfBuilder::new()
            .item(Ref::from_schema_name("Event"))
            .item(ArrayBuilder::new().items(Ref::from_schema_name("Event")).min_items(Some(1)).description(Some("Events appended all or nothing, in this order")))
            .description(Some("One event, or a non-empty array of events (appended all or nothing). JSON lines (one event per line) are accepted too."))
            .into()
    }
}

impl ToSchema for EventBatch {
    fn name() -> std::borrow::Cow<'static, str> {
        "EventBatch".into()
    }

    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        schemas.extend(corridor_model::reference::schemas());
    }
}

/// Append events: one event object, a JSON array of them (all or nothing),
/// or one event per line. Acknowledged only once durable.
#[utoipa::path(post, path = "/api/v1/events", tag = "write",
    request_body(content = EventBatch, description = "An event ({v, id, time, author, body}), a JSON array of events, or JSON lines; every kind and its fields: docs/events.md", content_type = "application/json"),
    responses(
        (status = 200, description = "Every event was already in the log with the same content (a retry): nothing appended, original indexes", body = Appended),
        (status = 201, description = "Appended and durable (events already in the log with the same content keep their index)", body = Appended),
        (status = 400, description = "Not JSON, or not events, or a malformed or cut-short body (e.g. a bad chunked encoding)", body = ErrorBody),
        (status = 401, description = "No token, or an unknown, revoked or expired one", body = ErrorBody),
        (status = 403, description = "Outside the token's scope", body = ErrorBody),
        (status = 409, description = "An id already in the log with other content (a different event), or being appended by a concurrent request", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 422, description = "Events refused by the model (unknown corridor, bad counts, …), or dated in the server's future beyond its allowed clock skew", body = ErrorBody),
        (status = 503, description = "Storage failed, or no server of the cluster sequences the log at this moment (a failover); nothing acknowledged: send the same request again after Retry-After", body = ErrorBody),
    ),
    security(("token" = [])))]
pub async fn post_events(Auth { token: t, .. }: Auth<AnyRole>, State(st): St, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> ApiResult<Response> {
    let body = body?;
    if st.cluster.is_some() && !st.ledger.is_writer() {
        return forward(&st, &headers, body).await;
    }
    let now = chrono::Utc::now();
    let mut events = corridor_model::parse::parse_batch(std::str::from_utf8(&body)?)?;
    if events.is_empty() {
        return Err(ApiError::BadRequest("no events in the body: send an event, an array of events, or one per line".into()));
    }
    // Against the ledger's registry: it knows what was declared a moment
    // ago. (Its lock is the writer's while a group is staged: off the
    // async workers.)
    let ledger = st.ledger.clone();
    events = blocking(move || ledger.with_registry(|r| crate::scope::authorize(&t, &events, r)).map(|()| events)).await?;
    let skew = st.options.max_clock_skew;
    if let Some((i, e)) = events.iter().enumerate().find(|(_, e)| e.time > now + skew) {
        return Err(ApiError::Unprocessable(
            format!(
                "event #{i} ({:?}) is dated {}, {} ahead of this server's clock ({}; at most {} s ahead is accepted): nothing from this batch was appended. Check the date and time (and time zone) of the device that recorded it; a fact is recorded when it happens",
                e.id,
                e.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                humanize(e.time - now),
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                skew.num_seconds()
            ),
        ));
    }
    let outcome = st.append(events).await?;
    let new = outcome.iter().filter(|o| matches!(o, corridor_ledger::Appended::New(_))).count() as u64;
    let status = if new == 0 { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(Appended { indexes: outcome.into_iter().map(corridor_ledger::Appended::index).collect(), new, size: st.ledger.len() })).into_response())
}

/// Marks a write one server of a cluster forwarded to another: it is not
/// forwarded again.
const FORWARDED: &str = "x-corridor-forwarded";

/// A write sent to a server of a cluster that does not sequence the log:
/// sent on, as it came, to the one that does, and its answer given back.
/// When no server sequences it (a failover under way) or the sequencer
/// cannot be reached, 503 with Retry-After: nothing was acknowledged, and
/// the same request can be sent again (event ids make that safe).
async fn forward(st: &Arc<AppState>, headers: &HeaderMap, body: Bytes) -> ApiResult<Response> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let unavailable = |why: String| ApiError::Unavailable(format!("{why}: nothing was appended; send the same request again in a moment"));
    if headers.contains_key(FORWARDED) {
        return Err(unavailable("this server stopped sequencing the log as the write reached it (a failover)".into()));
    }
    let status = st.cluster.as_ref().map(|c| c.status()).unwrap_or_default();
    let Some(url) = status.sequencer else {
        return Err(unavailable("no server sequences the log at this moment (a failover is under way)".into()));
    };
    // A sequencer that does not answer within 10 s (paused, cut off) is
    // being replaced: the client is told to resend.
    let client = CLIENT.get_or_init(|| {
        reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(2)).timeout(std::time::Duration::from_secs(10)).build().unwrap_or_default()
    });
    let mut req = client.post(format!("{}/api/v1/events", url.trim_end_matches('/'))).header(FORWARDED, "1").body(body);
    for h in [header::AUTHORIZATION, header::CONTENT_TYPE] {
        if let Some(v) = headers.get(&h) {
            req = req.header(h, v.clone());
        }
    }
    let answer = req.send().await.map_err(|e| unavailable(format!("the sequencer at {url} cannot be reached ({e})")))?;
    let code = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let kind = answer.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
    let retry = answer.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
    // A write the sequencer made durable but whose answer is lost here
    // is answered 503: its retry is answered with its index.
    let bytes = answer.bytes().await.map_err(|e| unavailable(format!("the sequencer's answer was cut short ({e})")))?;
    if code.is_success() {
        // This server's copy catches up before it answers, so the writer
        // reads its write here next.
        let s = st.clone();
        if let Ok(Ok(n)) = tokio::task::spawn_blocking(move || s.ledger.refresh()).await {
            if n > 0 {
                st.wake.notify_one();
            }
        }
    }
    let mut r = (code, bytes).into_response();
    for (name, v) in [(header::CONTENT_TYPE, kind), (header::RETRY_AFTER, retry)] {
        if let Some(v) = v {
            r.headers_mut().insert(name, v);
        }
    }
    Ok(r)
}

/// Whether this server is ready to serve (for a load balancer), and its
/// place in its cluster.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `single` (the only server of its log), `sequencer` or `follower`.
    pub role: String,
    /// Entries this server serves.
    pub size: u64,
    /// The cluster's sequencer (advertised URL), when one is live.
    pub sequencer: Option<String>,
    /// Ready to serve: the log is open and not stopped, and (in a cluster)
    /// this server reads the log's database. Writes also need a live
    /// sequencer (`sequencer` not null); during a failover they are
    /// answered 503 with Retry-After.
    pub ready: bool,
    /// Why not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Readiness, for load balancers: 200 when this server can serve, 503 (with the reason) when not.
#[utoipa::path(get, path = "/api/v1/health", tag = "public",
    responses((status = 200, description = "Ready", body = Health), (status = 503, description = "Not ready (the log stopped, or this server cannot read the log's database)", body = Health)))]
pub async fn health(State(st): St) -> Response {
    let size = st.ledger.len();
    let (role, sequencer, mut problem) = match &st.cluster {
        None => ("single".to_string(), None, None),
        Some(c) => {
            let s = c.status();
            let behind = c.out_of_touch();
            // Without a live sequencer (a failover, a fraction of a second)
            // reads go on; writes are answered 503 with Retry-After.
            let problem = (behind > std::time::Duration::from_secs(2)).then(|| format!("cannot read the log's database for {} s: this server's copy may be behind", behind.as_secs()));
            (s.role.to_string(), s.sequencer, problem)
        }
    };
    if let Some(why) = st.ledger.failed() {
        problem = Some(format!("the log stopped: {why}"));
    }
    let ready = problem.is_none();
    let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, [(header::CACHE_CONTROL, "no-store")], Json(Health { role, size, sequencer, ready, problem })).into_response()
}

/// A duration in words: `2 h 5 min`, `40 s`.
fn humanize(d: chrono::Duration) -> String {
    let s = d.num_seconds();
    match s {
        s if s >= 86_400 => format!("{} days", s / 86_400),
        s if s >= 3600 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Range {
    /// First index (default 0).
    pub from: Option<u64>,
    /// One past the last index (default: the log's size; at most 1,000 entries per read).
    pub to: Option<u64>,
}

/// An entry of the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct Entry {
    pub index: u64,
    /// The event, as stored.
    pub event: corridor_model::Event,
    /// The leaf bytes exactly as hashed into the log (base64): recompute
    /// the leaf hash, `SHA-256(0x00 || leaf)`, from these.
    pub leaf: String,
    /// The leaf hash (base64).
    pub leaf_hash: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Entries {
    pub size: u64,
    pub entries: Vec<Entry>,
}

/// Events by index range (hq and monitors).
#[utoipa::path(get, path = "/api/v1/events", tag = "read", params(Range),
    responses((status = 200, body = Entries), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
pub async fn get_events(_: Auth<HqOrMonitor>, State(st): St, r: Result<Query<Range>, QueryRejection>) -> ApiResult<Json<Entries>> {
    let Query(r) = r?;
    let size = st.ledger.len();
    let from = index_param("from", r.from)?.unwrap_or(0);
    let to = index_param("to", r.to)?.unwrap_or(size).min(size).min(from.saturating_add(MAX_PAGE));
    if from > size {
        return Err(ApiError::BadRequest(format!("from={from} is beyond the log's {size} entries")));
    }
    if to < from {
        return Err(ApiError::BadRequest(format!("to={to} is before from={from}")));
    }
    // The store's client blocks (PostgreSQL's runs a runtime of its own).
    let ledger = st.ledger.clone();
    let stored = blocking(move || ledger.entries(from, to)).await?;
    let entries = stored
        .into_iter()
        .map(|e| {
            // Checked against the leaves the ledger verified (their form was
            // checked when appended; a monitor checks it on the bytes given).
            let event = corridor_model::parse::parse_signed_leaf(&e.leaf).map_err(|err| ApiError::Unavailable(format!("stored entry {} is unreadable: {err}; run `corridor verify`", e.index)))?;
            Ok(Entry { index: e.index, event, leaf: b64(&e.leaf), leaf_hash: b64(&e.hash) })
        })
        .collect::<ApiResult<_>>()?;
    Ok(Json(Entries { size, entries }))
}

/// Every figure folded from the log, with per-vehicle reconciliation (hq and monitors).
#[utoipa::path(get, path = "/api/v1/figures", tag = "read",
    responses((status = 200, description = "The views' figures", body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
pub async fn get_figures(_: Auth<HqOrMonitor>, State(st): St) -> ApiResult<Response> {
    Ok(json_text(st.fold.read().unwrap_or_else(|p| p.into_inner()).figures_json()))
}

/// Reconciliation: trips, discrepancies and overdue vehicles (hq and monitors).
#[utoipa::path(get, path = "/api/v1/reconciliation", tag = "read",
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
pub async fn get_reconciliation(_: Auth<HqOrMonitor>, State(st): St) -> ApiResult<Response> {
    Ok(json_text(st.fold.read().unwrap_or_else(|p| p.into_inner()).reconciliation_json()))
}

/// Every convoy: corridor, status, vehicles, people out, the furthest checkpoint passed (hq and monitors).
#[utoipa::path(get, path = "/api/v1/convoys", tag = "read",
    responses((status = 200, body = [crate::fold::ConvoyRow]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
pub async fn get_convoys(_: Auth<HqOrMonitor>, State(st): St) -> ApiResult<Response> {
    Ok(json_text(st.fold.read().unwrap_or_else(|p| p.into_inner()).convoys_json()))
}

/// One convoy: its vehicles and what each carried past each checkpoint (hq and monitors).
#[utoipa::path(get, path = "/api/v1/convoys/{id}", tag = "read", params(("id" = String, Path, description = "Convoy id")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = [])))]
pub async fn get_convoy(_: Auth<HqOrMonitor>, State(st): St, Path(id): Path<String>) -> ApiResult<Json<serde_json::Value>> {
    let f = st.fold.read().unwrap_or_else(|p| p.into_inner());
    let v = f.views();
    let c = v.convoy(&id).ok_or_else(|| ApiError::NotFound(format!("no convoy {id:?} in the log")))?;
    let vehicles: serde_json::Map<String, serde_json::Value> = c.vehicles.iter().filter_map(|x| Some((x.clone(), serde_json::to_value(v.vehicle_on_trip(&id, x)?).ok()?))).collect();
    Ok(Json(serde_json::json!({ "convoy": id, "state": c, "vehicles": vehicles })))
}

/// A checkpoint's view: its corridor's status and windows, the passages counted there (corrections applied) and their corrections, the vehicles expected there (its own checkpoint token, hq and monitors).
#[utoipa::path(get, path = "/api/v1/checkpoints/{id}", tag = "read", params(("id" = String, Path, description = "Checkpoint id")),
    responses((status = 200, body = crate::fold::CheckpointView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = [])))]
pub async fn get_checkpoint_view(Auth { token: t, .. }: Auth<AnyRole>, State(st): St, Path(id): Path<String>) -> ApiResult<Json<crate::fold::CheckpointView>> {
    if t.role == Role::Checkpoint && t.checkpoint.as_deref() != Some(id.as_str()) {
        return Err(ApiError::Forbidden(
            format!("this token is for checkpoint {:?}: it reads that checkpoint's view only (GET /api/v1/checkpoints/{})", t.checkpoint.as_deref().unwrap_or(""), t.checkpoint.as_deref().unwrap_or("")),
        ));
    }
    // An officer reads right after recording: show what the log holds now.
    if st.fold.read().unwrap_or_else(|p| p.into_inner()).size() < st.ledger.len() {
        let s = st.clone();
        blocking(move || s.catch_up()).await?;
    }
    let view = st.fold.read().unwrap_or_else(|p| p.into_inner()).checkpoint_view(&id);
    let mut view = view.ok_or_else(|| ApiError::NotFound(format!("no checkpoint {id:?} is declared in the log")))?;
    // The passages' ids are the log's (the views keep their positions);
    // read off the async workers: the ledger's lock may be held by a batch
    // being staged.
    let indices: Vec<u64> = view.passages.iter().map(|p| p.index).collect();
    let ledger = st.clone();
    let ids = blocking(move || Ok::<_, ApiError>(ledger.ledger.ids_at(indices))).await?;
    for (p, id) in view.passages.iter_mut().zip(ids) {
        p.id = id.unwrap_or_default();
    }
    Ok(Json(view))
}

/// The caller's token: its role and, for a checkpoint token, its checkpoint (so an app knows what to show).
#[utoipa::path(get, path = "/api/v1/whoami", tag = "read",
    responses((status = 200, body = Object), (status = 401, body = ErrorBody)),
    security(("token" = [])))]
pub async fn whoami(Auth { token: t, .. }: Auth<AnyRole>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": t.id, "role": t.role.name(), "checkpoint": t.checkpoint, "author": t.author(), "expires": t.expires }))
}

/// What the public may see: aggregates by corridor, day and group; corridors open or closed; incident counts.
#[utoipa::path(get, path = "/api/v1/public/summary", tag = "public",
    responses((status = 200, body = PublicSummary), (status = 429, body = ErrorBody)))]
pub async fn public_summary(_: Public, State(st): St) -> ApiResult<Response> {
    Ok(json_text(st.fold.read().unwrap_or_else(|p| p.into_inner()).summary_json()))
}

/// The notices in force at the log's latest event, in English and Arabic.
#[utoipa::path(get, path = "/api/v1/public/notices", tag = "public",
    responses((status = 200, body = [PublicNotice]), (status = 429, body = ErrorBody)))]
pub async fn public_notices(_: Public, State(st): St) -> ApiResult<Response> {
    Ok(json_text(st.fold.read().unwrap_or_else(|p| p.into_inner()).notices_json()))
}

/// The road network and corridors as GeoJSON (RFC 7946), for maps.
#[utoipa::path(get, path = "/api/v1/public/map", tag = "public",
    responses((status = 200, description = "GeoJSON FeatureCollection", body = Object, content_type = "application/geo+json"), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn public_map(_: Public, State(st): St) -> ApiResult<Response> {
    let g = st.options.map_geojson.clone().ok_or_else(|| ApiError::NotFound("this server has no map: the log declares no operation (operation_declared names the operation's map) and the server was started without one; declare the operation (`corridor apply`), or restart with `corridor serve --map FILE.cnet`".into()))?;
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], g).into_response())
}

/// The latest signed checkpoint (C2SP signed note), with monitors' countersignatures of it.
#[utoipa::path(get, path = "/api/v1/checkpoint", tag = "public",
    responses((status = 200, description = "Signed note", body = String, content_type = "text/plain"), (status = 429, body = ErrorBody)))]
pub async fn get_checkpoint(_: Public, State(st): St) -> ApiResult<Response> {
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], st.checkpoint_note()).into_response())
}

/// A monitor countersigns a checkpoint: the log's signed note with the monitor's signature line added.
#[utoipa::path(post, path = "/api/v1/checkpoint/cosign", tag = "write",
    request_body(content = String, content_type = "text/plain"),
    responses((status = 201, description = "Kept", body = String), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("token" = [])))]
pub async fn post_cosign(Auth { token: t, .. }: Auth<MonitorOnly>, State(st): St, body: Result<Bytes, BytesRejection>) -> ApiResult<(StatusCode, String)> {
    let body = body?;
    let note = std::str::from_utf8(&body)?;
    let key = t.key.as_deref().unwrap_or("");
    let monitor = corridor_ledger::note::Verifier::from_vkey(key).map_err(|e| ApiError::Forbidden(format!("this monitor token has no usable key: {e}")))?;
    let opened = corridor_ledger::note::open(note, &[st.ledger.verifier(), monitor.clone()]).map_err(|e| ApiError::BadRequest(format!("not a signed note this log and your key can check: {e}")))?;
    let signed_by = |name: &str| opened.verified.iter().any(|s| s.name == name);
    if !signed_by(st.ledger.origin()) {
        return Err(ApiError::BadRequest("the note carries no valid signature of this log: countersign a checkpoint from GET /api/v1/checkpoint".into()));
    }
    let Some(sig) = opened.verified.iter().find(|s| s.name == monitor.name() && s.key_hash == monitor.key_hash()) else {
        return Err(ApiError::BadRequest(format!("the note carries no valid signature by your key {:?}", monitor.name())));
    };
    let line = format!("\u{2014} {} {}", sig.name, sig.base64);
    let cp = corridor_ledger::parse_checkpoint(note, &st.ledger.verifier()).map_err(ApiError::BadRequest)?;
    let s = st.clone();
    let kept = blocking(move || {
        if cp.size > s.ledger.len() && s.cluster.is_some() {
            // Signed by the sequencer a moment ago: this server catches up first.
            let _ = s.ledger.refresh();
        }
        if s.ledger.root_at(cp.size)? != cp.root {
            return Err(ApiError::BadRequest("the checkpoint's root is not this log's root at that size".into()));
        }
        s.keep_cosignature(cp.size, &line).map_err(|e| ApiError::Unavailable(format!("cannot store the countersignature: {e}")))
    })
    .await?;
    Ok(match kept {
        crate::Kept::New => (StatusCode::CREATED, format!("countersignature by {} of size {} kept", monitor.name(), cp.size)),
        crate::Kept::AlreadyKept => (StatusCode::OK, format!("a countersignature by {} of size {} was already kept", monitor.name(), cp.size)),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    pub index: u64,
    /// Tree size (default: the latest checkpoint's).
    pub size: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Proof {
    pub size: u64,
    /// Base64 hashes, RFC 6962 order.
    pub proof: Vec<String>,
    /// Base64 root at `size`.
    pub root: String,
}

fn b64(h: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(h)
}

/// A proof at tree `size` (default: the latest checkpoint's) with that
/// tree's root, made off the async workers (the tree is behind the ledger's
/// lock, which the writer holds while it stages a group). A size or index
/// the log does not have is the caller's error (400).
async fn proof_answer<H: AsRef<[u8]>>(
    st: &Arc<AppState>,
    size: Option<u64>,
    proof: impl FnOnce(&corridor_ledger::Ledger, u64) -> Result<Vec<H>, corridor_ledger::LedgerError> + Send + 'static,
) -> ApiResult<Json<Proof>> {
    let ledger = st.ledger.clone();
    blocking(move || {
        let size = size.unwrap_or_else(|| ledger.checkpoint().size);
        let proof = proof(&ledger, size)?;
        let root = ledger.root_at(size)?;
        Ok::<_, ApiError>(Json(Proof { size, proof: proof.iter().map(|h| b64(h.as_ref())).collect(), root: b64(&root) }))
    })
    .await
}

/// An RFC 6962 inclusion proof of entry `index` in the tree of `size` (hq and monitors).
#[utoipa::path(get, path = "/api/v1/proofs/inclusion", tag = "read", params(InclusionQuery),
    responses((status = 200, body = Proof), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
pub async fn inclusion(_: Auth<HqOrMonitor>, State(st): St, q: Result<Query<InclusionQuery>, QueryRejection>) -> ApiResult<Json<Proof>> {
    let Query(q) = q?;
    index_param("index", Some(q.index))?;
    let size = index_param("size", q.size)?;
    proof_answer(&st, size, move |l, size| l.inclusion_proof(q.index, size)).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptsQuery {
    /// Entry indexes, comma-separated (at most 1,000), e.g. `5,17,230`.
    #[param(pattern = r"^[0-9]{1,18}(,[0-9]{1,18}){0,999}$")]
    pub indexes: String,
}

/// One entry's receipt: its leaf and its inclusion proof at the checkpoint's size.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    pub index: u64,
    /// The leaf bytes exactly as hashed (base64): the event's canonical JSON.
    pub leaf: String,
    /// Base64 hashes, RFC 6962 order, up to the checkpoint's root.
    pub proof: Vec<String>,
}

/// Receipts against one signed checkpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipts {
    /// The latest signed checkpoint (C2SP signed note): check its signature
    /// with the log's key, then each proof against its root.
    pub checkpoint: String,
    pub size: u64,
    pub receipts: Vec<Receipt>,
    /// Indexes the checkpoint does not cover yet: ask again shortly.
    pub pending: Vec<u64>,
}

/// Receipts for entries: each leaf with its inclusion proof against the
/// latest signed checkpoint, which comes with them, so that a device can
/// check that what it recorded is in the signed log (every token role;
/// leaves hold no personal data).
#[utoipa::path(get, path = "/api/v1/receipts", tag = "read", params(ReceiptsQuery),
    responses((status = 200, body = Receipts), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("token" = [])))]
pub async fn receipts(_: Auth<AnyRole>, State(st): St, q: Result<Query<ReceiptsQuery>, QueryRejection>) -> ApiResult<Json<Receipts>> {
    let Query(q) = q?;
    // Exactly what the documented pattern says: 1 to 18 digits each, commas between.
    let mut indexes = Vec::new();
    for part in q.indexes.split(',').filter(|_| !q.indexes.is_empty()) {
        let i: u64 = Some(part)
            .filter(|p| (1..=18).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| ApiError::BadRequest(format!("indexes: {part:?} is not an entry index (1 to 18 digits); send them comma-separated, e.g. indexes=5,17,230")))?;
        indexes.push(i);
    }
    if indexes.is_empty() || indexes.len() as u64 > MAX_PAGE {
        return Err(ApiError::BadRequest(format!("indexes: give 1 to {MAX_PAGE} entry indexes, comma-separated")));
    }
    indexes.sort_unstable();
    indexes.dedup();
    let cp = st.ledger.checkpoint();
    let (covered, pending): (Vec<u64>, Vec<u64>) = indexes.into_iter().partition(|&i| i < cp.size);
    let ledger = st.ledger.clone();
    let size = cp.size;
    let read = move || -> Result<Vec<Receipt>, corridor_ledger::LedgerError> {
        let mut out = Vec::with_capacity(covered.len());
        // Runs of consecutive indexes are read together.
        let mut i = 0;
        while i < covered.len() {
            let mut j = i + 1;
            while j < covered.len() && covered[j] == covered[j - 1] + 1 {
                j += 1;
            }
            for e in ledger.entries(covered[i], covered[j - 1] + 1)? {
                let proof = ledger.inclusion_proof(e.index, size)?;
                out.push(Receipt { index: e.index, leaf: b64(&e.leaf), proof: proof.iter().map(|h| b64(h.as_ref())).collect() });
            }
            i = j;
        }
        Ok(out)
    };
    let receipts = blocking(read).await?;
    Ok(Json(Receipts { checkpoint: cp.note, size, receipts, pending }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    pub old: u64,
    /// Default: the latest checkpoint's size.
    pub new: Option<u64>,
}

/// An RFC 6962 consistency proof between two tree sizes (hq and monitors).
#[utoipa::path(get, path = "/api/v1/proofs/consistency", tag = "read", params(ConsistencyQuery),
    responses((status = 200, body = Proof), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
pub async fn consistency(_: Auth<HqOrMonitor>, State(st): St, q: Result<Query<ConsistencyQuery>, QueryRejection>) -> ApiResult<Json<Proof>> {
    let Query(q) = q?;
    index_param("old", Some(q.old))?;
    let size = index_param("new", q.new)?;
    proof_answer(&st, size, move |l, size| l.consistency_proof(q.old, size)).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// A one-use ticket from `POST /api/v1/feed/ticket`, for a browser's EventSource (which cannot send headers); other clients send `Authorization: Bearer TOKEN`. Hq and monitor tokens also get every new event.
    pub ticket: Option<String>,
    /// Refused (400): a token in a URL ends up in proxies' and servers' logs.
    /// Not in the OpenAPI document: it is not a way to call the feed.
    #[param(ignore)]
    pub token: Option<String>,
}

/// How long a feed ticket may be used.
pub const TICKET_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30);

/// A feed ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    /// Opens `/api/v1/feed?ticket=…` once, within `expires_in` seconds, as the token that asked for it.
    pub ticket: String,
    pub expires_in: u64,
}

/// A one-use ticket for the live feed (any valid token): a browser's EventSource cannot send the token in a header, and a token in the URL would be logged by proxies.
#[utoipa::path(post, path = "/api/v1/feed/ticket", tag = "read",
    responses((status = 201, body = Ticket), (status = 401, body = ErrorBody)),
    security(("token" = [])))]
pub async fn post_feed_ticket(Auth { secret: token, .. }: Auth<AnyRole>, State(st): St) -> (StatusCode, Json<Ticket>) {
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    let ticket = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let now = Instant::now();
    let mut tickets = st.tickets.lock().unwrap_or_else(|p| p.into_inner());
    tickets.retain(|_, (_, until)| *until > now);
    tickets.insert(crate::tokens::hash(&ticket), (token, now + TICKET_LIFETIME));
    (StatusCode::CREATED, Json(Ticket { ticket, expires_in: TICKET_LIFETIME.as_secs() }))
}

/// The token a ticket stands for, once.
fn redeem(st: &AppState, ticket: &str) -> ApiResult<String> {
    let mut tickets = st.tickets.lock().unwrap_or_else(|p| p.into_inner());
    match tickets.remove(&crate::tokens::hash(ticket)) {
        Some((token, until)) if until > Instant::now() => Ok(token),
        _ => Err(ApiError::Unauthorized("unknown, used or expired ticket: get a new one from POST /api/v1/feed/ticket".into())),
    }
}

/// One message of the live feed, as server-sent events carry it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedEvent {
    /// `summary` (a PublicSummary) or `event` (`{"index", "event"}`; hq and monitor tokens only); `closed` (`{"reason"}`) ends a feed whose token was revoked or expired, or (`{"reason", "resume_from"}`) one following every entry that fell behind: read from `resume_from` with /api/v1/events, then reopen.
    #[schema(pattern = "^(summary|event|closed)$")]
    pub event: String,
    /// The message's JSON, as text.
    pub data: String,
}

/// How often a feed opened with a token checks that the token is still valid.
pub const FEED_TOKEN_CHECK: std::time::Duration = std::time::Duration::from_millis(250);

/// A feed being streamed: what it may see, and the token it was opened with.
struct Feed {
    st: Arc<AppState>,
    rx: tokio::sync::broadcast::Receiver<crate::FeedMsg>,
    full: bool,
    token: Option<String>,
    check: tokio::time::Interval,
    closed: bool,
    /// The index after the last entry this feed delivered (or the log's
    /// size when it opened): where a reader that fell behind resumes.
    next_index: u64,
}

impl Feed {
    /// The next message, or `None` once the feed has ended: a `closed`
    /// message (with the reason) is the last of a feed whose token was
    /// revoked or expired.
    async fn next(&mut self) -> Option<SseEvent> {
        use tokio::sync::broadcast::error::RecvError;
        if self.closed {
            return None;
        }
        loop {
            tokio::select! {
                m = self.rx.recv() => match m {
                    Ok(m) if m.public || self.full => {
                        if let Some(i) = m.index {
                            self.next_index = i + 1;
                        }
                        return Some(SseEvent::default().event(m.name).data(&*m.data));
                    }
                    Ok(_) => {}
                    // A public reader that fell behind gets the next summary.
                    Err(RecvError::Lagged(_)) if !self.full => {}
                    // One that follows every entry would miss some: it is
                    // told where to resume, and the feed ends.
                    Err(RecvError::Lagged(n)) => {
                        self.closed = true;
                        let reason = format!(
                            "this feed fell behind the log ({n} messages were dropped while the connection was not read): read the entries from index {next} with GET /api/v1/events?from={next}, then open the feed again",
                            next = self.next_index
                        );
                        return Some(SseEvent::default().event("closed").data(serde_json::json!({ "reason": reason, "resume_from": self.next_index }).to_string()));
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = self.check.tick(), if self.token.is_some() => {
                    if let Some(reason) = self.revoked().await {
                        self.closed = true;
                        return Some(SseEvent::default().event("closed").data(serde_json::json!({ "reason": reason }).to_string()));
                    }
                }
            }
        }
    }

    /// Why the feed's token is no longer valid, if it is not.
    async fn revoked(&self) -> Option<String> {
        let (st, token) = (self.st.clone(), self.token.clone()?);
        // The token store reads files (or a database): off the async workers.
        match tokio::task::spawn_blocking(move || st.tokens.authenticate(&token, chrono::Utc::now())).await {
            // A database that cannot be asked now has not revoked anything.
            Ok(Ok(_)) | Ok(Err(AuthError::Unavailable(_))) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(format!("cannot check the token: {e}; reconnect")),
        }
    }
}

/// Server-sent events: `summary` (the public summary, after every change) for everyone; `event` (each new entry) for hq and monitor tokens. A feed opened with a token ends with a `closed` event within a second of the token's revocation or expiry.
#[utoipa::path(get, path = "/api/v1/feed", tag = "public", params(FeedQuery),
    responses((status = 200, description = "text/event-stream: each message is one FeedEvent", body = FeedEvent, content_type = "text/event-stream"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn feed(State(st): St, headers: HeaderMap, ConnectInfo(addr): ConnectInfo<SocketAddr>, q: Result<Query<FeedQuery>, QueryRejection>) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let Query(q) = q?;
    if q.token.is_some() {
        return Err(ApiError::BadRequest("a token in the URL ends up in logs: send `Authorization: Bearer TOKEN`, or from a browser open the feed with a ticket (POST /api/v1/feed/ticket)".into()));
    }
    let token = match (bearer(&headers)?, q.ticket.as_deref()) {
        (Some(t), _) => Some(t.to_string()),
        (None, Some(ticket)) => Some(redeem(&st, ticket)?),
        (None, None) => None,
    };
    // Only a feed of every entry (hq, monitors) is outside the public
    // limit; a checkpoint token gets the public feed, at the public rate.
    let full = match token.as_deref() {
        Some(t) => matches!(authenticate(&st, t).await?.role, Role::Hq | Role::Monitor),
        None => false,
    };
    if !full {
        limited(&st, addr)?;
    }
    let first = st.fold.read().unwrap_or_else(|p| p.into_inner()).summary_json();
    let initial = tokio_stream::once(Ok(SseEvent::default().event("summary").data(&*first)));
    let mut check = tokio::time::interval(FEED_TOKEN_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let next_index = st.fold.read().unwrap_or_else(|p| p.into_inner()).size();
    let feed = Feed { rx: st.feed.subscribe(), st, full, token, check, closed: false, next_index };
    let updates = futures_util::stream::unfold(feed, |mut f| async move { f.next().await.map(|e| (Ok(e), f)) });
    Ok(Sse::new(initial.chain(updates)).keep_alive(KeepAlive::default()))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Corridor operations API", description = "Writes are events appended to the tamper-evident log; reads are folds of it. Tokens: `corridor token create`."),
    paths(post_events, get_events, health, get_checkpoint_view, whoami, get_figures, get_reconciliation, get_convoys, get_convoy, public_summary, public_notices, public_map, get_checkpoint, post_cosign, inclusion, consistency, receipts, feed, post_feed_ticket, crate::log::checkpoint, crate::log::tile),
    modifiers(&Security, &EventSchemas)
)]
pub struct ApiDoc;

/// The event schemas exactly as the model completes them (unsigned
/// integers, one key per kind, examples), whichever type referred to them
/// first; and an example request of every kind of event.
struct EventSchemas;

impl utoipa::Modify for EventSchemas {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::example::ExampleBuilder;
        let c = openapi.components.get_or_insert_with(Default::default);
        c.schemas.extend(corridor_model::reference::schemas());
        let body = openapi.paths.paths.get_mut("/api/v1/events").and_then(|p| p.post.as_mut()).and_then(|op| op.request_body.as_mut());
        if let Some(content) = body.and_then(|b| b.content.get_mut("application/json")) {
            for e in corridor_model::examples() {
                let value = serde_json::to_value(&e).expect("an example serializes");
                let example = ExampleBuilder::new().summary(format!("{} (see docs/events.md)", e.body.kind())).value(Some(value)).build();
                content.examples.insert(e.body.kind().to_string(), example.into());
            }
        }
    }
}

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme("token", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

async fn openapi(_: Public) -> Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(|| ApiDoc::openapi().to_json().expect("the OpenAPI document serializes"));
    ([(header::CONTENT_TYPE, "application/json")], doc.as_str()).into_response()
}

const DASHBOARD: &str = include_str!("../dashboard/index.html");

async fn dashboard(_: Public) -> Html<&'static str> {
    Html(DASHBOARD)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint: see /openapi.json".into())
}

/// The whole app: API, feed, OpenAPI and dashboard.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/openapi.json", get(openapi))
        .route("/api/v1/events", post(post_events).get(get_events))
        .route("/api/v1/checkpoints/{id}", get(get_checkpoint_view))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/health", get(health))
        .route("/api/v1/figures", get(get_figures))
        .route("/api/v1/reconciliation", get(get_reconciliation))
        .route("/api/v1/convoys", get(get_convoys))
        .route("/api/v1/convoys/{id}", get(get_convoy))
        .route("/api/v1/public/summary", get(public_summary))
        .route("/api/v1/public/notices", get(public_notices))
        .route("/api/v1/public/map", get(public_map))
        .route("/api/v1/checkpoint", get(get_checkpoint))
        .route("/api/v1/checkpoint/cosign", post(post_cosign))
        .route("/api/v1/proofs/inclusion", get(inclusion))
        .route("/api/v1/proofs/consistency", get(consistency))
        .route("/api/v1/receipts", get(receipts))
        .route("/api/v1/feed", get(feed))
        .route("/api/v1/feed/ticket", post(post_feed_ticket))
        .merge(crate::log::routes())
        .merge(crate::field::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/openapi.json` describes events with the model's schema (every
    /// kind, every field), not a bare `type: object`, on the way in and
    /// out, with an example request of every kind.
    #[test]
    fn the_openapi_document_has_the_event_schema() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let model = corridor_model::reference::schemas_json();
        for (name, s) in &model {
            assert_eq!(&schemas[name], s, "components.schemas.{name} is the model's");
        }
        let kinds: Vec<&str> = schemas["Body"]["oneOf"].as_array().unwrap().iter().map(|v| v["required"][0].as_str().unwrap()).collect();
        assert_eq!(kinds.len(), corridor_model::examples().len());
        assert_eq!(schemas["Passage"]["properties"]["counts"]["additionalProperties"]["format"], "uint32");
        let post = &doc["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"];
        assert_eq!(post["schema"]["$ref"], "#/components/schemas/EventBatch");
        let batch = &schemas["EventBatch"]["oneOf"];
        assert_eq!(batch[0]["$ref"], "#/components/schemas/Event");
        assert_eq!(batch[1]["items"]["$ref"], "#/components/schemas/Event");
        for k in &kinds {
            assert_eq!(post["examples"][k]["value"]["body"][k].is_object(), true, "an example request of {k}");
        }
        assert_eq!(schemas["Entry"]["properties"]["event"]["$ref"], "#/components/schemas/Event");
        assert!(!doc.to_string().contains("EventEnvelope"));
    }
}
