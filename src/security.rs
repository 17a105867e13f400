//! HTTP-level defences shared by every route: the security headers on each response, the
//! `Origin` check that keeps other sites' pages from opening our sockets (cross-site WebSocket
//! hijacking), and the client's address that rate limits count by.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
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

/// The client's IP address: the connection's peer, or behind a trusted proxy (`TRUST_PROXY`)
/// the address the proxy reports — the right-most entry of `X-Forwarded-For`, the one it added.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        if state.settings.trust_proxy
            && let Some(address) = forwarded_for(&parts.headers)
        {
            return Ok(Self(address));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        Ok(Self(peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

/// The sockets each client address holds open on this instance.
#[derive(Default)]
pub struct SocketSlots {
    open: std::sync::Mutex<std::collections::HashMap<IpAddr, u32>>,
}

/// One open socket of an address; dropping it frees the slot.
pub struct SocketSlot {
    slots: std::sync::Arc<SocketSlots>,
    address: IpAddr,
}

impl SocketSlots {
    /// A slot for one more socket of `address`, unless it holds `limit` already.
    pub fn take(self: &std::sync::Arc<Self>, address: IpAddr, limit: u32) -> Option<SocketSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(address).or_default();
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(SocketSlot {
            slots: std::sync::Arc::clone(self),
            address,
        })
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// The last address in `X-Forwarded-For`.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|last| last.trim().parse().ok())
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
    fn socket_slots_are_counted_per_address_and_freed() {
        let slots = std::sync::Arc::new(SocketSlots::default());
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let first = slots.take(a, 2).unwrap();
        let _second = slots.take(a, 2).unwrap();
        assert!(slots.take(a, 2).is_none());
        assert!(slots.take(b, 2).is_some());
        drop(first);
        assert!(slots.take(a, 2).is_some());
    }

    #[test]
    fn the_client_is_the_address_the_proxy_added() {
        let headers = request(&[("x-forwarded-for", "203.0.113.9, 198.51.100.4")]);
        assert_eq!(
            forwarded_for(&headers),
            Some("198.51.100.4".parse().unwrap())
        );
        assert_eq!(
            forwarded_for(&request(&[("x-forwarded-for", "junk")])),
            None
        );
        assert_eq!(forwarded_for(&HeaderMap::new()), None);
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
