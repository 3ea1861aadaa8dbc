//! The log for clients that follow it from outside, per C2SP tlog-tiles:
//! `/log/checkpoint` (the signed note, with the cosignatures it has) and
//! `/log/tile/…` (hash tiles and entry bundles). No token is needed:
//! entries hold no personal data (recipients are HMACs, heads are counts).
//! Anonymous requests share the public rate limit; a monitor or HQ token
//! is not limited (a monitor catching up reads thousands of tiles).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use corridor_ledger::tiles::Tile;
use corridor_ledger::LedgerError;

use crate::api::{limited, require, ApiError, ApiResult};
use crate::tokens::Role;
use crate::AppState;

type St = State<Arc<AppState>>;

/// A full tile never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// A partial tile is replaced by a wider one as the log grows.
const SHORT: &str = "public, max-age=10";

fn gate(st: &AppState, headers: &HeaderMap, addr: SocketAddr) -> ApiResult<()> {
    if headers.contains_key(header::AUTHORIZATION) {
        require(st, headers, &[Role::Monitor, Role::Hq], "reading tiles with a token").map(drop)
    } else {
        limited(st, addr)
    }
}

/// The latest signed checkpoint (C2SP tlog-checkpoint) with the monitors'
/// and witnesses' cosignatures of it.
#[utoipa::path(get, path = "/log/checkpoint", tag = "public",
    responses((status = 200, description = "Signed note", body = String, content_type = "text/plain"), (status = 429, body = crate::api::ErrorBody)))]
pub async fn checkpoint(State(st): St, headers: HeaderMap, ConnectInfo(addr): ConnectInfo<SocketAddr>) -> ApiResult<Response> {
    gate(&st, &headers, addr)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], st.checkpoint_note()).into_response())
}

/// A hash tile (`tile/<L>/<N>[.p/<W>]`) or an entry bundle
/// (`tile/entries/<N>[.p/<W>]`), C2SP tlog-tiles.
#[utoipa::path(get, path = "/log/tile/{path}", tag = "public",
    params(("path" = String, Path, description = "`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, N in 3-digit elements (x001/x234/067)")),
    responses((status = 200, description = "Tile bytes", body = Vec<u8>, content_type = "application/octet-stream"), (status = 404, body = crate::api::ErrorBody), (status = 429, body = crate::api::ErrorBody)))]
pub async fn tile(State(st): St, headers: HeaderMap, ConnectInfo(addr): ConnectInfo<SocketAddr>, Path(path): Path<String>) -> ApiResult<Response> {
    gate(&st, &headers, addr)?;
    let tile = Tile::parse(&format!("tile/{path}")).map_err(|e| ApiError::new(StatusCode::NOT_FOUND, e.to_string()))?;
    let ledger = st.ledger.clone();
    let data = tokio::task::spawn_blocking(move || ledger.tile(tile))
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("cannot read the tile: {e}")))?
        .map_err(|e| match e {
            LedgerError::NoSuchTile { .. } => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
            e => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("cannot read the tile: {e}")),
        })?;
    let cache = if tile.is_full() { IMMUTABLE } else { SHORT };
    Ok(([(header::CONTENT_TYPE, "application/octet-stream"), (header::CACHE_CONTROL, cache)], data).into_response())
}

/// The `/log/` routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/log/checkpoint", get(checkpoint)).route("/log/tile/{*path}", get(tile))
}
