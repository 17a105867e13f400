//! The pages the binary serves: where they are, their headers (compression, caching, CSP), and
//! that they reference nothing but this origin.

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH,
};

use crate::helpers::spawn_app;

/// Every tag of these kinds in `html`, from `<` to `>`.
fn tags<'h>(html: &'h str, kinds: &[&str]) -> Vec<&'h str> {
    kinds
        .iter()
        .flat_map(|kind| html.match_indices(kind))
        .map(|(start, _)| &html[start..start + html[start..].find('>').unwrap_or(0)])
        .collect()
}

#[tokio::test]
async fn pages_and_their_aliases_are_served_with_a_strict_policy() {
    let app = spawn_app().await;
    for (path, alias, marker) in [
        ("/", None, "/widget.js"),
        ("/console", Some("/admin"), "/assets/console.js"),
    ] {
        let page = app.get(path).await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert!(
            page.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let policy = page.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert_eq!(page.headers()["x-content-type-options"], "nosniff");
        let html = page.text().await.unwrap();
        assert!(
            html.contains(
                r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
            )
        );
        assert!(html.contains(marker), "{path} loads {marker}");
        assert!(!html.contains("<script>"), "{path} has no inline script");
        for tag in tags(&html, &["<script", "<link", "<img", "<iframe"]) {
            assert!(
                !tag.contains("http"),
                "{path} loads from another host: {tag}"
            );
        }
        if let Some(alias) = alias {
            assert_eq!(app.get(alias).await.text().await.unwrap(), html);
        }
    }
    let widget = app.get("/widget.js").await.text().await.unwrap();
    assert_eq!(
        app.get("/chatbot-widget.js").await.text().await.unwrap(),
        widget
    );
    for asset in [
        "/assets/console.js",
        "/assets/console.css",
        "/assets/demo.css",
        "/assets/demo.js",
    ] {
        assert_eq!(app.get(asset).await.status(), StatusCode::OK, "{asset}");
    }
}

/// GET `path` with these headers.
async fn get_with(
    app: &crate::helpers::TestApp,
    path: &str,
    headers: &[(reqwest::header::HeaderName, &str)],
) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn assets_are_gzipped_and_a_reload_costs_a_304() {
    let app = spawn_app().await;
    let plain = app.get("/widget.js").await;
    assert!(plain.headers().get(CONTENT_ENCODING).is_none());
    let plain_size = plain.bytes().await.unwrap().len();

    // reqwest here does not decompress: the bytes are what travelled.
    let gzipped = get_with(
        &app,
        "/widget.js",
        &[(ACCEPT_ENCODING, "gzip, deflate, br")],
    )
    .await;
    assert_eq!(gzipped.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(gzipped.headers()["vary"], "Accept-Encoding");
    assert!(
        gzipped.headers()[CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let etag = gzipped.headers()[ETAG].to_str().unwrap().to_owned();
    let body = gzipped.bytes().await.unwrap();
    assert_eq!(&body[..2], [0x1f, 0x8b], "a gzip stream");
    assert!(
        body.len() * 2 < plain_size,
        "{} of {plain_size} bytes",
        body.len()
    );

    let again = get_with(
        &app,
        "/widget.js",
        &[(ACCEPT_ENCODING, "gzip"), (IF_NONE_MATCH, &etag)],
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[ETAG], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());

    let page = get_with(&app, "/console", &[(ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(page.headers()[CACHE_CONTROL], "no-cache");
    let tag = page.headers()[ETAG].to_str().unwrap().to_owned();
    let reload = get_with(
        &app,
        "/console",
        &[(ACCEPT_ENCODING, "gzip"), (IF_NONE_MATCH, &tag)],
    )
    .await;
    assert_eq!(reload.status(), StatusCode::NOT_MODIFIED);
}
