//! Slack's request signing: every request Slack sends carries
//! `X-Slack-Signature: v0=<hex>`, the HMAC-SHA256 of `v0:{timestamp}:{body}`
//! under the app's signing secret, and `X-Slack-Request-Timestamp`. A request
//! whose signature does not match, or whose timestamp is more than five minutes
//! off (a replay), is refused before anything in it is acted on.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from our clock.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 5 * 60;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the X-Slack-Request-Timestamp header is missing")]
    MissingTimestamp,
    #[error("the X-Slack-Signature header is missing")]
    MissingSignature,
    #[error("X-Slack-Request-Timestamp is not a Unix time")]
    MalformedTimestamp,
    #[error("the request is {0} seconds off our clock; at most 300 are accepted")]
    Stale(i64),
    #[error("X-Slack-Signature is not a v0 signature")]
    MalformedSignature,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks the timestamp alone, so a stale or unsigned request is refused
/// before its body is read.
pub fn check_timestamp(timestamp: Option<&str>, now: i64) -> Result<i64, SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?;
    let seconds: i64 = timestamp.trim().parse().map_err(|_| SignatureError::MalformedTimestamp)?;
    let skew = (now - seconds).abs();
    if skew > MAX_CLOCK_SKEW_SECONDS {
        return Err(SignatureError::Stale(skew));
    }
    Ok(seconds)
}

/// Verifies `signature` over the raw `body` sent at `timestamp`; the digests
/// are compared in constant time.
pub fn verify(secret: &str, timestamp: &str, signature: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
    let signature = signature.ok_or(SignatureError::MissingSignature)?;
    let hex_digest = signature.trim().strip_prefix("v0=").ok_or(SignatureError::MalformedSignature)?;
    let given = hex::decode(hex_digest).map_err(|_| SignatureError::MalformedSignature)?;
    mac(secret, timestamp, body).verify_slice(&given).map_err(|_| SignatureError::Mismatch)
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
        format!("v0={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
    }

    /// The worked example of Slack's "Verifying requests from Slack" guide.
    #[test]
    fn slacks_documented_example_verifies() {
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let timestamp = "1531420618";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(sign(secret, timestamp, body), expected);
        assert_eq!(verify(secret, timestamp, Some(expected), body), Ok(()));
        assert_eq!(verify(secret, timestamp, Some(expected), b"token=changed"), Err(SignatureError::Mismatch));
        assert_eq!(verify("another-secret", timestamp, Some(expected), body), Err(SignatureError::Mismatch));
        assert_eq!(verify(secret, timestamp, Some("a2114d57"), body), Err(SignatureError::MalformedSignature));
        assert_eq!(verify(secret, timestamp, None, body), Err(SignatureError::MissingSignature));
    }

    #[test]
    fn timestamps_more_than_five_minutes_off_are_stale() {
        let now = 1_531_420_618;
        assert_eq!(check_timestamp(Some("1531420618"), now), Ok(now));
        assert_eq!(check_timestamp(Some("1531420318"), now), Ok(now - 300));
        assert_eq!(check_timestamp(Some("1531420317"), now), Err(SignatureError::Stale(301)));
        assert_eq!(check_timestamp(Some("1531420919"), now), Err(SignatureError::Stale(301)));
        assert_eq!(check_timestamp(Some("soon"), now), Err(SignatureError::MalformedTimestamp));
        assert_eq!(check_timestamp(None, now), Err(SignatureError::MissingTimestamp));
    }
}
