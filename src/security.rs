//! HTTP-level defences shared by every route: the security headers on each response, and the
//! `Origin` check that keeps other sites' pages from opening our sockets (cross-site WebSocket
//! hijacking).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// One year, with subdomains: what HSTS preload lists expect.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Adds the headers every response should carry (unless the handler chose its own):
/// `nosniff`, no referrer, no framing, `no-store` on the API (tokens and transcripts), and HSTS
/// in production when the request came over HTTPS.
pub async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let https = came_over_https(request.headers(), state.settings.trust_proxy);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut default = |name: header::HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    default(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    default(header::REFERRER_POLICY, "no-referrer");
    default(header::X_FRAME_OPTIONS, "DENY");
    if api {
        default(header::CACHE_CONTROL, "no-store");
    }
    if https && !state.settings.debug {
        default(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    response
}

/// Whether the client reached us over HTTPS. The server itself speaks plain HTTP, so only a
/// trusted proxy's `X-Forwarded-Proto` can say so.
fn came_over_https(headers: &HeaderMap, trust_proxy: bool) -> bool {
    trust_proxy
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Whether a browser on `Origin` may open a socket here: requests without `Origin` (not from a
/// browser) may; a browser page may if it is this server's own origin (same host and port) or
/// one of `CORS_ORIGINS` (`*` allows any).
pub fn origin_allowed(headers: &HeaderMap, cors_origins: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if cors_origins
        .iter()
        .any(|allowed| allowed == "*" || allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn sockets_accept_their_own_origin_the_listed_ones_and_non_browsers() {
        let listed = vec!["https://app.example".to_owned()];
        let host = ("host", "chat.example:8443");
        assert!(origin_allowed(&request(&[host]), &listed), "no Origin");
        assert!(origin_allowed(
            &request(&[host, ("origin", "https://chat.example:8443")]),
            &listed
        ));
        assert!(origin_allowed(
            &request(&[host, ("origin", "https://app.example")]),
            &listed
        ));
        assert!(!origin_allowed(
            &request(&[host, ("origin", "https://evil.example")]),
            &listed
        ));
        assert!(!origin_allowed(
            &request(&[host, ("origin", "null")]),
            &listed
        ));
        assert!(!origin_allowed(
            &request(&[host, ("origin", "https://chat.example:9999")]),
            &listed
        ));
        assert!(origin_allowed(
            &request(&[host, ("origin", "https://evil.example")]),
            &["*".to_owned()]
        ));
    }

    #[test]
    fn https_is_believed_only_from_a_trusted_proxy() {
        let forwarded = request(&[("x-forwarded-proto", "https")]);
        assert!(came_over_https(&forwarded, true));
        assert!(!came_over_https(&forwarded, false));
        assert!(!came_over_https(
            &request(&[("x-forwarded-proto", "http")]),
            true
        ));
    }
}
