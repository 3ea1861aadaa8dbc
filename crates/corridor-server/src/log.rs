//! The log for clients that follow it from outside, per C2SP tlog-tiles:
//! `/log/checkpoint` (the signed note, with the cosignatures it has) and
//! `/log/tile/…` (hash tiles and entry bundles). No token is needed:
//! entries hold no personal data (recipients are HMACs, heads are counts).
//! Anonymous requests share the public rate limit; a monitor or HQ token
//! is not limited (a monitor catching up reads thousands of tiles).

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use corridor_ledger::tiles::Tile;

use crate::auth::{limited, peer, Auth, HqOrMonitor};
use crate::error::{blocking, ApiError, ApiResult};
use crate::AppState;

type St = State<Arc<AppState>>;

/// A full tile never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// A partial tile is replaced by a wider one as the log grows.
const SHORT: &str = "public, max-age=10";

/// A reader of the log: with a token (monitors and HQ, not limited), or
/// anonymous within the public rate.
pub struct Reader;

impl FromRequestParts<Arc<AppState>> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &Arc<AppState>) -> ApiResult<Self> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            Auth::<HqOrMonitor>::from_request_parts(parts, st).await?;
        } else {
            limited(st, peer(parts)?)?;
        }
        Ok(Reader)
    }
}

/// The latest signed checkpoint (C2SP tlog-checkpoint) with the monitors'
/// and witnesses' cosignatures of it.
#[utoipa::path(get, path = "/log/checkpoint", tag = "public",
    responses((status = 200, description = "Signed note", body = String, content_type = "text/plain"), (status = 429, body = crate::api::ErrorBody)))]
pub async fn checkpoint(_: Reader, State(st): St) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], st.checkpoint_note()).into_response()
}

/// A hash tile (`tile/<L>/<N>[.p/<W>]`) or an entry bundle
/// (`tile/entries/<N>[.p/<W>]`), C2SP tlog-tiles.
#[utoipa::path(get, path = "/log/tile/{path}", tag = "public",
    params(("path" = String, Path, description = "`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, N in 3-digit elements (x001/x234/067)")),
    responses((status = 200, description = "Tile bytes", body = Vec<u8>, content_type = "application/octet-stream"), (status = 404, body = crate::api::ErrorBody), (status = 429, body = crate::api::ErrorBody)))]
pub async fn tile(_: Reader, State(st): St, Path(path): Path<String>) -> ApiResult<Response> {
    let tile = Tile::parse(&format!("tile/{path}")).map_err(|e| ApiError::NotFound(e.to_string()))?;
    let ledger = st.ledger.clone();
    let data = blocking(move || ledger.tile(tile)).await?;
    let cache = if tile.is_full() { IMMUTABLE } else { SHORT };
    Ok(([(header::CONTENT_TYPE, "application/octet-stream"), (header::CACHE_CONTROL, cache)], data).into_response())
}

/// The `/log/` routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/log/checkpoint", get(checkpoint)).route("/log/tile/{*path}", get(tile))
}
