//! Standard Webhooks verification as a receiver would do it, written
//! from the specification independently of `signing`, applied to the
//! headers `webhook::request` produces.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

use super::*;

/// How far a timestamp may be from the receiver's clock.
const TOLERANCE_S: i64 = 300;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Verifies `headers` and `body` against `secret` at `now_s`.
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now_s: i64) -> Result<(), String> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(format!("missing {name}"))
    };
    let id = text("webhook-id")?;
    let timestamp = text("webhook-timestamp")?;
    let seconds: i64 = timestamp.parse().map_err(|_| "bad timestamp".to_string())?;
    if (now_s - seconds).abs() > TOLERANCE_S {
        return Err("timestamp outside the tolerance".into());
    }
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").ok_or("bad secret")?)
        .map_err(|_| "bad secret".to_string())?;
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    for candidate in text("webhook-signature")?.split(' ') {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            continue;
        };
        let Ok(expected) = STANDARD.decode(encoded) else {
            continue;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
        mac.update(&signed);
        // `verify_slice` compares in constant time.
        if mac.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err("no matching signature".into())
}

fn signed_config() -> WebhookConfig {
    WebhookConfig {
        signing_secret: Some(SECRET.into()),
        ..webhook_config("http://127.0.0.1:1/hook")
    }
}

fn attempt(config: &WebhookConfig, now_ms: i64) -> transport::Request {
    webhook::request(config, &notification(), now_ms)
        .unwrap()
        .unwrap()
}

#[test]
fn signature_verifies_and_tampering_fails() {
    let now_ms = CREATED_MS + 1_500;
    let request = attempt(&signed_config(), now_ms);
    let now_s = now_ms / 1000;
    assert_eq!(
        verify(SECRET, &request.headers, &request.body, now_s),
        Ok(())
    );

    let mut tampered = request.body.clone();
    tampered[10] ^= 1;
    assert!(verify(SECRET, &request.headers, &tampered, now_s).is_err());

    let other = format!("whsec_{}", STANDARD.encode([9u8; 32]));
    assert!(verify(&other, &request.headers, &request.body, now_s).is_err());
    assert!(verify(SECRET, &request.headers, &request.body, now_s + 301).is_err());
}

#[test]
fn id_is_stable_across_attempts_and_timestamp_is_per_attempt() {
    let config = signed_config();
    let first = attempt(&config, CREATED_MS);
    let second = attempt(&config, CREATED_MS + 90_000);
    assert_eq!(first.headers["webhook-id"], second.headers["webhook-id"]);
    assert_eq!(first.headers["webhook-id"], notification().id.as_str());
    assert_eq!(first.body, second.body);
    assert_eq!(
        first.headers["webhook-timestamp"],
        (CREATED_MS / 1000).to_string().as_str()
    );
    assert_ne!(
        first.headers["webhook-timestamp"],
        second.headers["webhook-timestamp"]
    );
    assert_ne!(
        first.headers["webhook-signature"],
        second.headers["webhook-signature"]
    );
    let now_s = (CREATED_MS + 90_000) / 1000;
    assert_eq!(verify(SECRET, &second.headers, &second.body, now_s), Ok(()));
}

#[test]
fn unsigned_webhooks_still_carry_id_and_timestamp() {
    let request = attempt(&webhook_config("http://127.0.0.1:1/hook"), CREATED_MS);
    assert!(request.headers.contains_key("webhook-id"));
    assert!(request.headers.contains_key("webhook-timestamp"));
    assert!(!request.headers.contains_key("webhook-signature"));
}
