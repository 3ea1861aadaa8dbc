//! Who may call: [`Auth`], a handler argument that holds the caller's token
//! when it has one of the roles its type names (else the request is
//! answered 401 or 403 before the handler runs), and [`Public`], an
//! anonymous request within the public rate. The token store reads a file
//! or a database, so tokens are checked off the async workers.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use crate::error::{blocking, ApiError, ApiResult};
use crate::tokens::{Role, TokenRecord};
use crate::AppState;

/// The roles an [`Auth`] accepts.
pub trait Allowed: Send + Sync + 'static {
    const ROLES: &'static [Role];
}

/// HQ and monitors: the full figures, events, convoys, proofs.
pub struct HqOrMonitor;
impl Allowed for HqOrMonitor {
    const ROLES: &'static [Role] = &[Role::Hq, Role::Monitor];
}

/// Every role: writing events (scoped per event), a checkpoint's view,
/// receipts, whoami, feed tickets.
pub struct AnyRole;
impl Allowed for AnyRole {
    const ROLES: &'static [Role] = &[Role::Hq, Role::Monitor, Role::Checkpoint];
}

/// Monitors only: countersigning.
pub struct MonitorOnly;
impl Allowed for MonitorOnly {
    const ROLES: &'static [Role] = &[Role::Monitor];
}

/// The caller's token, which has one of `R`'s roles.
pub struct Auth<R> {
    pub token: TokenRecord,
    /// The bearer secret as sent (a feed ticket stands for it).
    pub secret: String,
    roles: PhantomData<R>,
}

impl<R: Allowed> FromRequestParts<Arc<AppState>> for Auth<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &Arc<AppState>) -> ApiResult<Self> {
        let what = format!("{} {}", parts.method, parts.uri.path());
        let secret = bearer(&parts.headers)?
            .ok_or_else(|| ApiError::Unauthorized(format!("{what} needs a token (`Authorization: Bearer TOKEN`; `corridor token create` makes one)")))?
            .to_string();
        let token = authenticate(st, &secret).await?;
        if !R::ROLES.contains(&token.role) {
            let names: Vec<&str> = R::ROLES.iter().map(|r| r.name()).collect();
            return Err(ApiError::Forbidden(format!("{what} needs the role {}; this token is a {} token", names.join(" or "), token.role.name())));
        }
        Ok(Auth { token, secret, roles: PhantomData })
    }
}

/// An anonymous request, counted against its address's public rate.
pub struct Public;

impl FromRequestParts<Arc<AppState>> for Public {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &Arc<AppState>) -> ApiResult<Self> {
        limited(st, peer(parts)?)?;
        Ok(Public)
    }
}

/// The address the request came from.
pub(crate) fn peer(parts: &Parts) -> ApiResult<SocketAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .ok_or_else(|| ApiError::Unavailable("the server was started without peer addresses (into_make_service_with_connect_info)".into()))
}

/// Takes one request from `addr`'s public allowance.
pub(crate) fn limited(st: &AppState, addr: SocketAddr) -> ApiResult<()> {
    st.limiter.take(addr.ip(), Instant::now()).map_err(|wait| ApiError::TooManyRequests(format!("too many requests from {}: retry in {:.1} s", addr.ip(), wait)))
}

/// The token of `Authorization: Bearer …`, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> ApiResult<Option<&str>> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(v) => {
            let v = v.to_str().map_err(|_| ApiError::Unauthorized("the Authorization header is not text".into()))?;
            v.strip_prefix("Bearer ").map(|t| Some(t.trim())).ok_or_else(|| ApiError::Unauthorized("use `Authorization: Bearer TOKEN`".into()))
        }
    }
}

/// The token `secret` stands for, checked now (off the async workers: the
/// store reads its file or database).
pub(crate) async fn authenticate(st: &Arc<AppState>, secret: &str) -> ApiResult<TokenRecord> {
    let (st, secret) = (st.clone(), secret.to_string());
    blocking(move || st.tokens.authenticate(&secret, chrono::Utc::now())).await
}
