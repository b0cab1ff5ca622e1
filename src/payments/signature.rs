//! Stripe's webhook signature (E2), checked on the raw body before anything in it is parsed.
//!
//! The `Stripe-Signature` header is `t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=…]`: the MAC of
//! `"<t>.<raw body>"` with the endpoint's signing secret. Several `v1` entries appear while a secret is being
//! rotated (one per active secret); any one of them matching is enough. Other schemes (`v0`, …) are ignored,
//! as Stripe documents. A timestamp further than the tolerance from now, in either direction, is refused, so
//! a captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far the signed timestamp may be from now (Stripe's own libraries use five minutes).
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused (each answers 400; the reason goes to the log, not to the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No header, or one without a timestamp or a `v1` entry.
    Malformed,
    /// The timestamp is outside the tolerance.
    Stale,
    /// No `v1` entry is the body's MAC under this secret.
    Mismatch,
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value Stripe would send for `body` signed with `secret` at `timestamp` (the mock checkout signs
/// the events it delivers with it, and tests sign theirs).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex(&tag))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// Checks `header` (the `Stripe-Signature` value) for `body` against `secret` at time `now` (unix seconds).
/// The MAC comparison is constant-time.
pub fn verify(secret: &str, header: Option<&str>, body: &[u8], now: i64) -> Result<(), Refusal> {
    let header = header.ok_or(Refusal::Malformed)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = Some(value.parse::<i64>().map_err(|_| Refusal::Malformed)?),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Refusal::Malformed)?;
    if signatures.is_empty() {
        return Err(Refusal::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(Refusal::Stale);
    }
    let expected = mac(secret, timestamp, body);
    let matches = signatures
        .iter()
        .filter_map(|signature| unhex(signature))
        .any(|tag| expected.clone().verify_slice(&tag).is_ok());
    if matches { Ok(()) } else { Err(Refusal::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;

    #[test]
    fn a_signature_made_here_verifies() {
        let header = sign(SECRET, 1_700_000_000, BODY);
        assert_eq!(verify(SECRET, Some(&header), BODY, 1_700_000_000), Ok(()));
        assert_eq!(
            verify(SECRET, Some(&header), BODY, 1_700_000_000 + TOLERANCE_SECS),
            Ok(())
        );
    }

    /// The example of Stripe's documentation's format: the MAC of "t.body", hex, SHA-256.
    #[test]
    fn the_mac_is_hmac_sha256_of_timestamp_dot_body() {
        let header = sign("secret", 1, b"{}");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"secret").unwrap();
        mac.update(b"1.{}");
        assert_eq!(header, format!("t=1,v1={}", hex(&mac.finalize().into_bytes())));
    }

    #[test]
    fn tampered_stale_and_malformed_are_refused() {
        let now = 1_700_000_000;
        let header = sign(SECRET, now, BODY);
        assert_eq!(verify(SECRET, Some(&header), b"{}", now), Err(Refusal::Mismatch));
        assert_eq!(verify("whsec_other", Some(&header), BODY, now), Err(Refusal::Mismatch));
        assert_eq!(
            verify(SECRET, Some(&header), BODY, now + TOLERANCE_SECS + 1),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(&header), BODY, now - TOLERANCE_SECS - 1),
            Err(Refusal::Stale),
            "from the future"
        );
        for bad in [
            "",
            "t=abc,v1=00",
            "v1=00",
            &format!("t={now}"),
            &format!("t={now},v0=00"),
        ] {
            assert_eq!(verify(SECRET, Some(bad), BODY, now), Err(Refusal::Malformed), "{bad}");
        }
        assert_eq!(verify(SECRET, None, BODY, now), Err(Refusal::Malformed));
        let not_hex = format!("t={now},v1=zz");
        assert_eq!(verify(SECRET, Some(&not_hex), BODY, now), Err(Refusal::Mismatch));
    }

    #[test]
    fn any_v1_of_a_rotation_is_enough() {
        let now = 1_700_000_000;
        let old = sign("whsec_old", now, BODY);
        let new = sign(SECRET, now, BODY);
        let both = format!("{},{}", old, new.split_once(',').unwrap().1);
        assert_eq!(verify(SECRET, Some(&both), BODY, now), Ok(()));
        assert_eq!(verify("whsec_old", Some(&both), BODY, now), Ok(()));
    }
}
