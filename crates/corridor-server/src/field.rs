//! The field app's files (`/field/`): the installable, offline-first web
//! app that checkpoint officers record passages with and HQ records live
//! facts with. Built into the binary like the dashboard; no CDN. Its
//! version is a hash of its files, so a changed app is a new service
//! worker, which phones fetch at their next visit.

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::auth::Public;
use crate::error::{blocking, ApiError, ApiResult};
use crate::AppState;

type St = State<Arc<AppState>>;

const INDEX: &str = include_str!("../field/index.html");
const APP: &str = include_str!("../field/app.js");
const SW: &str = include_str!("../field/sw.js");
const MANIFEST: &str = include_str!("../field/manifest.webmanifest");
const ICON: &str = include_str!("../field/icon.svg");

/// The app's files with its version filled in.
struct Files {
    index: String,
    app: String,
    sw: String,
    manifest: String,
    icon: String,
}

impl Files {
    /// The files with `__VERSION__` replaced by the first 12 hex digits of
    /// SHA-256 over all of them.
    fn new([index, app, sw, manifest, icon]: [String; 5]) -> Files {
        let mut h = Sha256::new();
        for f in [&index, &app, &sw, &manifest, &icon] {
            h.update((f.len() as u64).to_be_bytes());
            h.update(f.as_bytes());
        }
        let v = &hex::encode(h.finalize())[..12];
        Files { index: index.replace("__VERSION__", v), app: app.replace("__VERSION__", v), sw: sw.replace("__VERSION__", v), manifest, icon }
    }
}

const NAMES: [&str; 5] = ["index.html", "app.js", "sw.js", "manifest.webmanifest", "icon.svg"];

/// The built-in app, or the one in `--field-app DIR` (read at each
/// request, off the async workers).
async fn files(st: &AppState) -> ApiResult<Arc<Files>> {
    static BUILT_IN: OnceLock<Arc<Files>> = OnceLock::new();
    let Some(dir) = st.options.field_dir.clone() else {
        return Ok(BUILT_IN.get_or_init(|| Arc::new(Files::new([INDEX, APP, SW, MANIFEST, ICON].map(String::from)))).clone());
    };
    blocking(move || {
        let mut texts: [String; 5] = Default::default();
        for (t, name) in texts.iter_mut().zip(NAMES) {
            *t = std::fs::read_to_string(dir.join(name)).map_err(|e| ApiError::Unavailable(format!("the field app's {name} cannot be read from {} ({e}): check --field-app", dir.display())))?;
        }
        Ok::<_, ApiError>(Arc::new(Files::new(texts)))
    })
    .await
}

/// The app shell is revalidated every time (the service worker serves it
/// offline); a new version is picked up at the next visit online.
async fn file(st: &AppState, ct: &'static str, pick: fn(&Files) -> &String) -> ApiResult<Response> {
    let f = files(st).await?;
    let mut r = ([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "no-cache")], pick(&f).clone()).into_response();
    r.headers_mut().insert("x-content-type-options", header::HeaderValue::from_static("nosniff"));
    Ok(r)
}

async fn index(_: Public, State(st): St) -> ApiResult<Response> {
    file(&st, "text/html; charset=utf-8", |f| &f.index).await
}

async fn app_js(_: Public, State(st): St) -> ApiResult<Response> {
    file(&st, "text/javascript; charset=utf-8", |f| &f.app).await
}

async fn sw_js(_: Public, State(st): St) -> ApiResult<Response> {
    file(&st, "text/javascript; charset=utf-8", |f| &f.sw).await
}

async fn manifest(_: Public, State(st): St) -> ApiResult<Response> {
    file(&st, "application/manifest+json", |f| &f.manifest).await
}

async fn icon(_: Public, State(st): St) -> ApiResult<Response> {
    file(&st, "image/svg+xml", |f| &f.icon).await
}

/// The `/field/` routes (`/field` redirects there: the service worker's
/// scope is the folder).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/field", get(|| async { Redirect::permanent("/field/") }))
        .route("/field/", get(index))
        .route("/field/app.js", get(app_js))
        .route("/field/sw.js", get(sw_js))
        .route("/field/manifest.webmanifest", get(manifest))
        .route("/field/icon.svg", get(icon))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_carries_the_version() {
        let f = Files::new([INDEX, APP, SW, MANIFEST, ICON].map(String::from));
        let v = f.sw.split("corridor-field-").nth(1).unwrap()[..12].to_string();
        assert!(v.chars().all(|c| c.is_ascii_hexdigit()), "{v}");
        assert!(f.index.contains(&v) && f.app.contains(&v));
        assert!(!f.sw.contains("__VERSION__") && !f.index.contains("__VERSION__") && !f.app.contains("__VERSION__"));
        // The shell the service worker caches is every file the app loads.
        for path in ["/field/", "/field/app.js", "/field/manifest.webmanifest", "/field/icon.svg"] {
            assert!(f.sw.contains(&format!("'{path}'")), "sw.js caches {path}");
        }
        // A changed file is a new version.
        let g = Files::new([INDEX, &format!("{APP}\n"), SW, MANIFEST, ICON].map(String::from));
        assert_ne!(f.sw, g.sw);
    }
}
