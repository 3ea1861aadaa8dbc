//! The API's one error type: every failure a handler can meet becomes an
//! [`ApiError`] (by `?`, through the `From` impls below), and
//! [`ApiError::status`] is the one place that decides its HTTP status.
//! The body is always `{"error": "what was wrong and what to do"}`.

use axum::extract::rejection::{BytesRejection, FailedToBufferBody, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use corridor_ledger::LedgerError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::scope::Forbidden;
use crate::tokens::AuthError;
use crate::AppendError;

/// Largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;

/// An error answer: `{"error": "what was wrong and what to do"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

/// What went wrong with a request, by kind; each kind has one status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is wrong (400).
    #[error("{0}")]
    BadRequest(String),
    /// No token, or one that is not valid (401).
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token, outside its role or scope (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such endpoint or thing (404).
    #[error("{0}")]
    NotFound(String),
    /// An id already used for something else, or being appended now (409).
    #[error("{0}")]
    Conflict(String),
    /// A body over [`MAX_BODY`] (413).
    #[error("{0}")]
    TooLarge(String),
    /// Well-formed, but refused by the model or the server's clock (422).
    #[error("{0}")]
    Unprocessable(String),
    /// Over the public rate (429).
    #[error("{0}")]
    TooManyRequests(String),
    /// The server cannot answer now; nothing was acknowledged, and the same
    /// request may be sent again (503, with `Retry-After`).
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    /// The one mapping from kinds of failure to HTTP statuses.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut r = (status, Json(ErrorBody { error: self.to_string() })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Nothing was acknowledged: the same request may be sent again.
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The ledger's answers, the same in every handler: the caller's mistakes
/// (a batch the model refuses, an id reused, a size or tile the log does
/// not have) are 4xx; the ledger's own trouble (storage, a stopped or
/// corrupt log, not the sequencer) is 503.
impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Invalid { .. } => ApiError::Unprocessable(e.to_string()),
            LedgerError::Conflict { position, id, index } => ApiError::Conflict(format!(
                "event #{position}: id {id:?} is already in the log at index {index} as a different event (its content differs from what you sent): nothing from this batch was appended. A resend of the same event is answered with its index; a new fact needs a new id; to change a recorded fact, record an entry_corrected naming {id:?}"
            )),
            LedgerError::Proof(_) | LedgerError::BeyondLog { .. } => ApiError::BadRequest(e.to_string()),
            LedgerError::NoSuchTile { .. } => ApiError::NotFound(e.to_string()),
            LedgerError::Store(_)
            | LedgerError::Stopped(_)
            | LedgerError::Corrupt { .. }
            | LedgerError::WrongLog { .. }
            | LedgerError::WrongKey { .. }
            | LedgerError::Forked { .. }
            | LedgerError::Remember { .. }
            | LedgerError::Note(_)
            | LedgerError::NotWriter => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::InFlight { .. } => ApiError::Conflict(e.to_string()),
            AppendError::Ledger(l) => l.into(),
        }
    }
}

/// A token that is missing its mark is 401; a token store that cannot be
/// read is 503 (the token may be fine).
impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable(_) => ApiError::Unavailable(e.to_string()),
            _ => ApiError::Unauthorized(e.to_string()),
        }
    }
}

impl From<Forbidden> for ApiError {
    fn from(e: Forbidden) -> Self {
        ApiError::Forbidden(e.to_string())
    }
}

/// A body that is not events.
impl From<corridor_model::parse::ParseError> for ApiError {
    fn from(e: corridor_model::parse::ParseError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

/// A body that is not text.
impl From<std::str::Utf8Error> for ApiError {
    fn from(_: std::str::Utf8Error) -> Self {
        ApiError::BadRequest("the body is not UTF-8 text".into())
    }
}

/// Blocking work that did not finish (its thread panicked, or the runtime
/// is shutting down): nothing was acknowledged.
impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Unavailable(format!("the server could not finish this request ({e}); send it again"))
    }
}

/// A query string that failed to parse, as a JSON 400 (axum's own answer
/// is plain text).
impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::BadRequest(format!("{}: see the parameters in /openapi.json", e.body_text()))
    }
}

/// A body that could not be read: 413 only when it really is over the
/// limit; a body cut short or malformed (a bad chunked encoding, a
/// connection dropped mid-body) is a 400 that says so.
impl From<BytesRejection> for ApiError {
    fn from(e: BytesRejection) -> Self {
        match e {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::TooLarge(format!("the body is over {MAX_BODY} bytes (1 MiB): send fewer events per request"))
            }
            BytesRejection::FailedToBufferBody(FailedToBufferBody::UnknownBodyError(e)) => ApiError::BadRequest(format!(
                "the request body is malformed or was cut short ({}): nothing was read; send it again, whole (a valid Content-Length or chunked encoding)",
                // The innermost cause (e.g. "invalid chunk size line"), not axum's wrapper.
                std::iter::successors(Some(&e as &dyn std::error::Error), |c| c.source()).last().map(|c| c.to_string()).unwrap_or_default()
            )),
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

/// Runs blocking work (the store, files, a database client, the ledger's
/// locks) off the async workers, and turns its failure into an answer.
pub async fn blocking<T, E>(f: impl FnOnce() -> Result<T, E> + Send + 'static) -> ApiResult<T>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await?.map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same ledger error is the same status wherever it is met (it was
    /// 503 in one handler and 400 in another).
    #[test]
    fn ledger_errors_map_to_one_status_each() {
        let cases = [
            (LedgerError::BeyondLog { size: 9, committed: 3 }, StatusCode::BAD_REQUEST),
            (LedgerError::NoSuchTile { path: "tile/0/000".into(), size: 0 }, StatusCode::NOT_FOUND),
            (LedgerError::Conflict { position: 0, id: "a".into(), index: 4 }, StatusCode::CONFLICT),
            (LedgerError::Stopped("x".into()), StatusCode::SERVICE_UNAVAILABLE),
            (LedgerError::NotWriter, StatusCode::SERVICE_UNAVAILABLE),
            (LedgerError::Corrupt { index: 1, what: "x".into() }, StatusCode::SERVICE_UNAVAILABLE),
        ];
        for (e, status) in cases {
            let text = e.to_string();
            let api = ApiError::from(e);
            assert_eq!(api.status(), status, "{text}");
        }
        let r = ApiError::from(AuthError::Unavailable("db down".into())).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let r = ApiError::from(AuthError::Unknown).into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
