//! The HTTP playback endpoint with a real client on loopback: what a
//! browser's `<audio>` does (whole file, open ranges, seeks), what caches and
//! CORS need, and every way a token or a range can be wrong.

#![allow(unused_crate_dependencies)]

mod common;

use chrono::Duration;
use media_svc::{Config, PlaybackToken};
use sha2::{Digest, Sha256};

use common::{
    fixture,
    http_client::{HttpResponse, send},
    server::{PLAYBACK_KEY, Server, config},
};

fn token(tenant: &str, id: &str, ttl: Duration, key: &str) -> String {
    PlaybackToken {
        tenant: tenant.into(),
        recording_id: id.into(),
        user_id: "paal".into(),
        expires_at: chrono::Utc::now() + ttl,
        renewable_until: None,
    }
    .sign(key.as_bytes())
}

async fn get(server: &Server, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    send(server.http, "GET", path, headers).await
}

fn assert_forbidden(response: &HttpResponse, what: &str) {
    assert_eq!(response.status, 403, "{what}");
    // HEAD answers carry no body at all.
    assert!(
        response.body == b"forbidden" || response.body.is_empty(),
        "{what}: no audio in the body"
    );
    assert_ne!(
        response.header("content-type"),
        Some("audio/mpeg"),
        "{what}"
    );
    assert_eq!(response.header("content-range"), None, "{what}");
}

/// A valid MP3 of about 1.8 MB: the frames of one fixture repeated.
fn long_recording() -> Vec<u8> {
    fixture("tel-8k-cbr16-mono.mp3").repeat(100)
}

#[tokio::test]
async fn whole_file_with_the_headers_a_player_needs() {
    let server = Server::start(config()).await;
    let bytes = long_recording();
    let id = server.upload("10009", &bytes).await;
    let path = server.playback_path("10009", &id, Duration::seconds(60));

    let r = get(&server, &path, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("content-type"), Some("audio/mpeg"));
    assert_eq!(
        r.header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(&bytes)));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let cache = r.header("cache-control").unwrap();
    let max_age: i64 = cache
        .strip_prefix("private, max-age=")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (55..=60).contains(&max_age),
        "{cache}: never beyond the token's expiry"
    );
    assert_eq!(r.header("content-range"), None);
    assert!(r.body == bytes, "body differs");

    // The configured bound caps it for long-lived tokens.
    let long = server.playback_path("10009", &id, Duration::hours(1));
    let r = send(server.http, "HEAD", &long, &[]).await;
    assert_eq!(r.header("cache-control"), Some("private, max-age=300"));
    server.stop().await;
}

#[tokio::test]
async fn ranges_open_suffix_and_bounded() {
    let server = Server::start(config()).await;
    let bytes = long_recording();
    let size = bytes.len();
    let id = server.upload("10009", &bytes).await;
    let path = server.playback_path("10009", &id, Duration::seconds(60));

    let cases = [
        ("bytes=0-", 0, size),
        ("bytes=0-99", 0, 100),
        ("bytes=1000000-", 1_000_000, size),
        ("bytes=-500", size - 500, size),
        ("bytes=-99999999", 0, size),
        ("bytes=123456-223455", 123_456, 223_456),
        ("bytes=1799990-99999999", 1_799_990, size),
    ];
    for (range, start, end) in cases {
        let r = get(&server, &path, &[("Range", range)]).await;
        assert_eq!(r.status, 206, "{range}");
        let want = format!("bytes {start}-{}/{size}", end - 1);
        assert_eq!(r.header("content-range"), Some(want.as_str()), "{range}");
        assert_eq!(
            r.header("content-length"),
            Some((end - start).to_string().as_str())
        );
        assert_eq!(r.header("content-type"), Some("audio/mpeg"));
        assert!(r.body == bytes[start..end], "{range}: body differs");
    }
    // Seeking around like a player does.
    for i in 0..20u64 {
        let start = (i * 7_919 * 13) as usize % (size - 65_536);
        let range = format!("bytes={start}-{}", start + 65_535);
        let r = get(&server, &path, &[("Range", &range)]).await;
        assert_eq!(r.status, 206);
        assert!(r.body == bytes[start..start + 65_536], "{range}");
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_ranges() {
    let server = Server::start(config()).await;
    let bytes = fixture("tel-8k-cbr16-mono.mp3");
    let id = server.upload("10009", &bytes).await;
    let path = server.playback_path("10009", &id, Duration::seconds(60));
    for range in [
        "bytes=18000-",
        "bytes=20000-20010",
        "bytes=-0",
        "bytes=5-2",
        "bytes=abc",
        "bytes=",
        "nonsense",
    ] {
        let r = get(&server, &path, &[("Range", range)]).await;
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(r.header("content-range"), Some("bytes */18000"), "{range}");
        assert_ne!(r.header("content-type"), Some("audio/mpeg"), "{range}");
        assert!(r.body.len() < 100, "{range}: no audio");
    }
    // Several ranges, or another unit: the whole file, as the RFC allows.
    for range in ["bytes=0-1,5-6", "items=0-5"] {
        let r = get(&server, &path, &[("Range", range)]).await;
        assert_eq!(r.status, 200, "{range}");
        assert_eq!(r.body, bytes);
    }
    server.stop().await;
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let server = Server::start(config()).await;
    let bytes = fixture("cbr128-44k.mp3");
    let id = server.upload("10009", &bytes).await;
    let path = server.playback_path("10009", &id, Duration::seconds(60));
    let r = send(server.http, "HEAD", &path, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("142105"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert!(r.body.is_empty());
    let r = send(server.http, "HEAD", &path, &[("Range", "bytes=100-")]).await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 100-142104/142105"));
    assert_eq!(r.header("content-length"), Some("142005"));
    assert!(r.body.is_empty());
    let r = send(server.http, "HEAD", &path, &[("Range", "bytes=142105-")]).await;
    assert_eq!(r.status, 416);
    server.stop().await;
}

#[tokio::test]
async fn tokens_that_do_not_fit_get_403_and_no_audio() {
    let server = Server::start(config()).await;
    let bytes = fixture("tel-8k-cbr32-mono.mp3");
    let id = server.upload("10009", &bytes).await;
    let other_id = server
        .upload("10009", &fixture("tel-8k-cbr16-mono.mp3"))
        .await;
    let minute = Duration::seconds(60);

    let good = token("10009", &id, minute, PLAYBACK_KEY);
    let cases = [
        ("no token".to_owned(), format!("/media/{id}")),
        ("empty token".to_owned(), format!("/media/{id}?token=")),
        ("garbage".to_owned(), format!("/media/{id}?token=abc.def")),
        (
            "expired".to_owned(),
            format!(
                "/media/{id}?token={}",
                token("10009", &id, Duration::seconds(-1), PLAYBACK_KEY)
            ),
        ),
        (
            "wrong key".to_owned(),
            format!(
                "/media/{id}?token={}",
                token("10009", &id, minute, "guessed key")
            ),
        ),
        (
            "token for another recording".to_owned(),
            format!(
                "/media/{id}?token={}",
                token("10009", &other_id, minute, PLAYBACK_KEY)
            ),
        ),
        (
            "token used on another recording".to_owned(),
            format!("/media/{other_id}?token={good}"),
        ),
        (
            "tampered".to_owned(),
            format!("/media/{id}?token={}", {
                let mut t = good.clone().into_bytes();
                t[3] = if t[3] == b'A' { b'B' } else { b'A' };
                String::from_utf8(t).unwrap()
            }),
        ),
        (
            "not a uuid".to_owned(),
            format!("/media/not-a-uuid?token={good}"),
        ),
    ];
    for (what, path) in &cases {
        assert_forbidden(&get(&server, path, &[("Range", "bytes=0-")]).await, what);
        assert_forbidden(&send(server.http, "HEAD", path, &[]).await, what);
    }
    // A valid token of another tenant only ever reaches that tenant's recordings.
    let path = format!(
        "/media/{id}?token={}",
        token("10010", &id, minute, PLAYBACK_KEY)
    );
    let r = get(&server, &path, &[]).await;
    assert_eq!(r.status, 404);
    assert_ne!(r.body, bytes);
    assert_ne!(r.header("content-type"), Some("audio/mpeg"));
    // The right token works.
    let r = get(&server, &format!("/media/{id}?token={good}"), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bytes);
    server.stop().await;
}

#[tokio::test]
async fn deleted_or_unknown_recordings_are_404() {
    let server = Server::start(config()).await;
    let id = server
        .upload("10009", &fixture("tel-8k-cbr16-mono.mp3"))
        .await;
    let path = server.playback_path("10009", &id, Duration::seconds(60));
    assert!(server.delete(&id).await.unwrap());
    assert_eq!(get(&server, &path, &[]).await.status, 404);
    assert_eq!(get(&server, "/elsewhere", &[]).await.status, 404);
    server.stop().await;
}

#[tokio::test]
async fn conditional_requests() {
    let server = Server::start(config()).await;
    let bytes = fixture("tel-8k-cbr16-mono.mp3");
    let id = server.upload("10009", &bytes).await;
    let path = server.playback_path("10009", &id, Duration::seconds(60));
    let etag = get(&server, &path, &[])
        .await
        .header("etag")
        .unwrap()
        .to_owned();

    let r = get(&server, &path, &[("If-None-Match", &etag)]).await;
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(
        get(&server, &path, &[("If-None-Match", "\"other\"")])
            .await
            .status,
        200
    );

    // If-Range: the range only for the version the client has.
    let r = get(
        &server,
        &path,
        &[("Range", "bytes=0-9"), ("If-Range", &etag)],
    )
    .await;
    assert_eq!((r.status, r.body.len()), (206, 10));
    let r = get(
        &server,
        &path,
        &[("Range", "bytes=0-9"), ("If-Range", "\"stale\"")],
    )
    .await;
    assert_eq!((r.status, r.body.len()), (200, bytes.len()));
    server.stop().await;
}

#[tokio::test]
async fn cors_for_the_configured_origin_only() {
    let origin = "https://archive.example.com";
    let server = Server::start(Config {
        cors_origin: Some(origin.into()),
        ..config()
    })
    .await;
    let id = server
        .upload("10009", &fixture("tel-8k-cbr16-mono.mp3"))
        .await;
    let path = server.playback_path("10009", &id, Duration::seconds(60));

    let r = get(
        &server,
        &path,
        &[("Origin", origin), ("Range", "bytes=0-1")],
    )
    .await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("access-control-allow-origin"), Some(origin));
    let exposed = r.header("access-control-expose-headers").unwrap();
    for h in ["Content-Range", "Accept-Ranges", "Content-Length", "ETag"] {
        assert!(exposed.contains(h), "{exposed}");
    }
    assert_eq!(r.header("vary"), Some("Origin"));

    let r = get(&server, &path, &[("Origin", "https://evil.example")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);

    let preflight = send(
        server.http,
        "OPTIONS",
        &path,
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "range"),
        ],
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(origin)
    );
    assert!(
        preflight
            .header("access-control-allow-methods")
            .unwrap()
            .contains("GET")
    );
    assert!(
        preflight
            .header("access-control-allow-headers")
            .unwrap()
            .contains("Range")
    );

    // A 403 carries the CORS headers too, so the page can tell the user why.
    let r = get(&server, &format!("/media/{id}"), &[("Origin", origin)]).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), Some(origin));

    // Without configuration there are no CORS headers at all.
    let plain = Server::start(config()).await;
    let id = plain
        .upload("10009", &fixture("tel-8k-cbr16-mono.mp3"))
        .await;
    let path = plain.playback_path("10009", &id, Duration::seconds(60));
    let r = send(plain.http, "GET", &path, &[("Origin", origin)]).await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    plain.stop().await;
    server.stop().await;
}

#[cfg(feature = "s3")]
#[tokio::test]
async fn served_from_s3_in_several_parts() {
    let Some(s3) = common::s3::S3Server::start_or_skip().await else {
        return;
    };
    // Streamed through object_store's client ("relay" names the same mode).
    served_from_s3(s3.config(config())).await;
}

#[cfg(feature = "s3")]
async fn served_from_s3(config: media_svc::Config) {
    let objects = media_svc::storage::open(&config).unwrap();
    let server = Server::start_with(config, objects).await;
    // Over 5 MiB: the upload goes to S3 in two multipart parts.
    let bytes = fixture("tel-8k-cbr16-mono.mp3").repeat(340);
    assert!(bytes.len() > media_svc::storage::S3_MIN_PART_BYTES);
    let id = server.upload("10009", &bytes).await;
    let path = server.playback_path("10009", &id, Duration::seconds(60));

    let r = get(&server, &path, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    assert!(r.body == bytes, "whole body differs");
    for (range, start, end) in [
        ("bytes=5242000-5243999", 5_242_000, 5_244_000),
        ("bytes=-70000", bytes.len() - 70_000, bytes.len()),
        ("bytes=6000000-", 6_000_000, bytes.len()),
    ] {
        let r = get(&server, &path, &[("Range", range)]).await;
        assert_eq!(r.status, 206, "{range}");
        assert!(r.body == bytes[start..end], "{range}");
    }
    assert_eq!(
        get(&server, &path, &[("Range", "bytes=9000000-")])
            .await
            .status,
        416
    );

    assert!(server.delete(&id).await.unwrap());
    assert_eq!(get(&server, &path, &[]).await.status, 404);
    server.stop().await;
}

/// Redirect mode: after the token check the player is sent to the store
/// itself, with a URL that works for GETs of that one object while the
/// token is valid and a minute at most; refusals and HEAD stay media-svc's
/// own answers.
#[cfg(feature = "s3")]
#[tokio::test]
async fn redirected_to_s3() {
    let Some(s3) = common::s3::S3Server::start_or_skip().await else {
        return;
    };
    let mut config = s3.config(config());
    config.s3.playback = media_svc::S3Playback::Redirect;
    let objects = media_svc::storage::open(&config).unwrap();
    let server = Server::start_with(config, objects).await;
    let bytes = long_recording();
    let id = server.upload("10009", &bytes).await;
    let other = server
        .upload("10009", &fixture("tel-8k-cbr16-mono.mp3"))
        .await;
    let path = server.playback_path("10009", &id, Duration::seconds(90));

    let r = get(&server, &path, &[("Range", "bytes=1000-1999")]).await;
    assert_eq!(r.status, 307);
    assert!(r.body.is_empty());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("content-range"), None);
    let location = r.header("location").expect("Location").to_owned();
    let object = format!(
        "{}/{}/tenants/10009/recordings/{id}.mp3?",
        s3.endpoint, s3.bucket
    );
    assert!(location.starts_with(&object), "{location}");
    // Valid for a minute (the token has 90 s): a URL handed out plays on
    // without media-svc, whatever is deleted or revoked meanwhile.
    let expires_of = |location: &str| -> u64 {
        location
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("X-Amz-Expires="))
            .and_then(|v| v.parse().ok())
            .expect("X-Amz-Expires")
    };
    assert_eq!(expires_of(&location), media_svc::http::MAX_REDIRECT_SECS);
    // A token with less left than that bounds it (give or take the second it took).
    let short = server.playback_path("10009", &id, Duration::seconds(20));
    let r = get(&server, &short, &[]).await;
    let expires = expires_of(r.header("location").expect("Location"));
    assert!((15..=20).contains(&expires), "{expires}");

    // The player repeats its GET there; the store answers ranges and the whole.
    let s3_addr = common::s3::address(&s3.endpoint);
    let at_store = &location[s3.endpoint.len()..];
    let part = send(s3_addr, "GET", at_store, &[("Range", "bytes=1000-1999")]).await;
    assert_eq!(part.status, 206);
    assert!(part.body == bytes[1000..2000]);
    let whole = send(s3_addr, "GET", at_store, &[]).await;
    assert_eq!(whole.status, 200);
    assert!(whole.body == bytes, "whole body differs");
    // Signed for GET of that object (moto does not check signatures; AWS
    // and MinIO do).
    for parameter in [
        "X-Amz-Signature=",
        "X-Amz-Credential=testing%2F",
        "X-Amz-SignedHeaders=host",
    ] {
        assert!(location.contains(parameter), "{parameter} in {location}");
    }

    // HEAD is answered here, from the metadata.
    let head = send(server.http, "HEAD", &path, &[]).await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    assert_eq!(head.header("content-type"), Some("audio/mpeg"));

    // Tokens that do not fit are refused before anything is signed.
    let expired = format!(
        "/media/{id}?token={}",
        token("10009", &id, Duration::seconds(-5), PLAYBACK_KEY)
    );
    let for_other = format!(
        "/media/{id}?token={}",
        token("10009", &other, Duration::seconds(60), PLAYBACK_KEY)
    );
    for (what, path) in [
        ("expired", expired),
        ("another recording's", for_other),
        ("no token", format!("/media/{id}")),
    ] {
        let r = get(&server, &path, &[]).await;
        assert_forbidden(&r, what);
        assert_eq!(r.header("location"), None, "{what}");
    }
    // A valid token of another tenant only ever reaches that tenant's keys.
    let other_tenant = format!(
        "/media/{id}?token={}",
        token("10010", &id, Duration::seconds(60), PLAYBACK_KEY)
    );
    let r = get(&server, &other_tenant, &[]).await;
    assert_eq!(r.status, 307);
    let location = r.header("location").unwrap();
    assert!(
        location.contains("/tenants/10010/recordings/"),
        "{location}"
    );
    let r = send(s3_addr, "GET", &location[s3.endpoint.len()..], &[]).await;
    assert_eq!(r.status, 404);
    assert!(r.body != bytes);

    // A deleted recording: the store itself says 404 to the redirected GET
    // (a URL handed out before the deletion included).
    assert!(server.delete(&id).await.unwrap());
    assert_eq!(send(s3_addr, "GET", at_store, &[]).await.status, 404);
    let r = get(&server, &path, &[]).await;
    assert_eq!(r.status, 307);
    let at_store = &r.header("location").unwrap()[s3.endpoint.len()..];
    assert_eq!(send(s3_addr, "GET", at_store, &[]).await.status, 404);
    assert_eq!(send(server.http, "HEAD", &path, &[]).await.status, 404);
    server.stop().await;
}
