//! The pages people use, embedded in the binary and served offline: the demo page with the live
//! widget (`/`), the embeddable widget (`/widget.js`, also `/chatbot-widget.js` for pages written
//! for the reference), and the agent console (`/console`, also `/admin`). Sources are in `web/`.
//!
//! Each asset is gzipped once, on first use, and carries an `ETag`, so a reload costs a 304. HTML
//! pages carry a Content-Security-Policy that allows this origin only and no inline script.

use std::sync::OnceLock;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// Wraps a script in a function, after the helpers it shares with the other script.
macro_rules! script {
    ($file:literal) => {
        concat!(
            "(() => {\n\"use strict\";\n",
            include_str!("../../web/shared/text.js"),
            "\n",
            include_str!($file),
            "})();\n"
        )
    };
}

macro_rules! asset {
    ($kind:ident, $body:expr) => {
        Asset {
            kind: Kind::$kind,
            body: $body,
        }
    };
}

/// What an asset is, for its headers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Page,
    Script,
    Style,
}

struct Asset {
    kind: Kind,
    body: &'static str,
}

const DEMO: Asset = asset!(Page, include_str!("../../web/demo/index.html"));
const DEMO_JS: Asset = asset!(Script, include_str!("../../web/demo/demo.js"));
const DEMO_CSS: Asset = asset!(Style, include_str!("../../web/demo/demo.css"));
const WIDGET: Asset = asset!(Script, script!("../../web/widget/widget.js"));
const CONSOLE: Asset = asset!(Page, include_str!("../../web/console/index.html"));
const CONSOLE_JS: Asset = asset!(Script, script!("../../web/console/console.js"));
const CONSOLE_CSS: Asset = asset!(Style, include_str!("../../web/console/console.css"));

/// Only this origin, no inline script or style, never framed.
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn router() -> Router<AppState> {
    macro_rules! serve {
        ($asset:ident) => {
            get(|headers: HeaderMap| async move {
                static READY: OnceLock<Prepared> = OnceLock::new();
                let prepared = READY.get_or_init(|| Prepared::new(&$asset));
                prepared.respond($asset.kind, &headers)
            })
        };
    }
    Router::new()
        .route("/", serve!(DEMO))
        .route("/assets/demo.js", serve!(DEMO_JS))
        .route("/assets/demo.css", serve!(DEMO_CSS))
        .route("/widget.js", serve!(WIDGET))
        .route("/chatbot-widget.js", serve!(WIDGET))
        .route("/console", serve!(CONSOLE))
        .route("/admin", serve!(CONSOLE))
        .route("/assets/console.js", serve!(CONSOLE_JS))
        .route("/assets/console.css", serve!(CONSOLE_CSS))
}

/// An asset ready to send: plain and gzipped, each with its entity tag.
struct Prepared {
    plain: &'static [u8],
    /// Shared, so each response is a reference count, not a copy.
    gzip: Bytes,
    etag: HeaderValue,
    gzip_etag: HeaderValue,
}

impl Prepared {
    fn new(asset: &Asset) -> Self {
        use std::io::Write;
        let plain = asset.body.as_bytes();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail.
        let _ = encoder.write_all(plain);
        let gzip = Bytes::from(encoder.finish().unwrap_or_default());
        let digest: String = Sha256::digest(plain)[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let tag = |suffix: &str| {
            HeaderValue::from_str(&format!("\"{digest}{suffix}\"")).expect("hex is a valid header")
        };
        Self {
            plain,
            gzip,
            etag: tag(""),
            gzip_etag: tag("-gz"),
        }
    }

    fn respond(&self, kind: Kind, request: &HeaderMap) -> Response {
        let gzip = accepts_gzip(request);
        let etag = if gzip { &self.gzip_etag } else { &self.etag };
        let unchanged = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| {
                tags.split(',')
                    .any(|t| t.trim().trim_start_matches("W/") == etag.to_str().unwrap_or(""))
            });
        let mut response = if unchanged {
            StatusCode::NOT_MODIFIED.into_response()
        } else if gzip {
            let mut response = Body::from(self.gzip.clone()).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            response
        } else {
            Body::from(self.plain).into_response()
        };
        let headers = response.headers_mut();
        let (content_type, cache) = match kind {
            Kind::Page => ("text/html; charset=utf-8", "no-cache"),
            Kind::Script => ("text/javascript; charset=utf-8", "public, max-age=300"),
            Kind::Style => ("text/css; charset=utf-8", "public, max-age=300"),
        };
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(header::ETAG, etag.clone());
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        // nosniff, no referrer and no framing are added to every response (`security.rs`).
        if kind == Kind::Page {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_POLICY),
            );
        }
        response
    }
}

/// Whether `Accept-Encoding` allows gzip (and does not refuse it with `q=0`).
fn accepts_gzip(request: &HeaderMap) -> bool {
    let Some(accepted) = request
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    accepted.split(',').any(|entry| {
        let mut parts = entry.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let refused = parts.any(|p| p.replace(' ', "") == "q=0" || p == "q=0.0");
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(encoding: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, encoding.parse().unwrap());
        headers
    }

    #[test]
    fn gzip_is_sent_only_when_accepted() {
        assert!(accepts_gzip(&with("gzip, deflate, br")));
        assert!(accepts_gzip(&with("br;q=1.0, gzip;q=0.8")));
        assert!(!accepts_gzip(&with("gzip;q=0")));
        assert!(!accepts_gzip(&with("br")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn the_widget_stays_within_its_size_budget() {
        let gzipped = Prepared::new(&WIDGET).gzip.len();
        assert!(gzipped <= 20 * 1024, "widget.js is {gzipped} bytes gzipped");
    }

    #[test]
    fn scripts_are_wrapped_with_their_shared_helpers() {
        assert!(WIDGET.body.starts_with("(() => {\n\"use strict\";"));
        assert!(WIDGET.body.contains("function linkify(") && WIDGET.body.contains("Open chat"));
        assert!(
            CONSOLE_JS.body.contains("function linkify(") && CONSOLE_JS.body.contains("signIn")
        );
        assert!(WIDGET.body.trim_end().ends_with("})();"));
    }
}
