//! The web app's cookies, signed with HMAC-SHA256 under one key so that the
//! server only believes values it issued:
//!
//! - `footnote_browser`: a random id for this browser, given on its first
//!   page view. The conversations it starts belong to it; the side list shows
//!   them and only it may rename or delete them. No accounts: another browser
//!   (or a cleared cookie) is someone else.
//! - `footnote_session`: a login, given for the admin token by `POST /login`;
//!   it expires after [`SESSION_HOURS`] and when the admin token changes
//!   (the token's hash is part of what is signed).
//!
//! Both are `HttpOnly` (no script reads them), `SameSite=Lax` (other sites'
//! forms and requests do not carry them) and `Secure` when the request came
//! over HTTPS. The page's forms that change something carry a token signed
//! for the browser ([`CookieKey::form_token`]), and requests whose `Origin`
//! is another site are refused ([`super::same_origin_writes`]).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use hmac::{KeyInit, Mac};

use super::{ApiError, Ctx};

pub const BROWSER_COOKIE: &str = "footnote_browser";
pub const SESSION_COOKIE: &str = "footnote_session";
/// How long a login lasts.
pub const SESSION_HOURS: u64 = 12;
/// A browser id is kept this long after it was given.
pub const BROWSER_DAYS: u64 = 365;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The key cookies and form tokens are signed with.
#[derive(Clone)]
pub struct CookieKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey(..)")
    }
}

impl CookieKey {
    /// The key given (`--cookie-key`), else the one kept in `file`, made
    /// there (random, readable by the owner only) the first time.
    pub fn new(given: Option<&str>, file: &Path) -> anyhow::Result<Self> {
        if let Some(given) = given.filter(|k| !k.is_empty()) {
            anyhow::ensure!(given.len() >= 32, "FOOTNOTE_COOKIE_KEY is {} characters long; use at least 32 random ones", given.len());
            return Ok(CookieKey { key: given.as_bytes().to_vec() });
        }
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let key = hex::decode(text.trim()).ok().filter(|k| k.len() == 32).with_context(|| {
                    format!("{} does not hold a cookie key (64 hex digits); delete it to make a new one", file.display())
                })?;
                Ok(CookieKey { key })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut key = vec![0u8; 32];
                getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no random numbers for a cookie key: {e}"))?;
                write_private(file, &hex::encode(&key)).with_context(|| format!("cannot write the cookie key to {}", file.display()))?;
                Ok(CookieKey { key })
            }
            Err(error) => Err(error).with_context(|| format!("cannot read the cookie key {}", file.display())),
        }
    }

    fn sign(&self, parts: &[&str]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac
    }

    fn signature(&self, parts: &[&str]) -> String {
        hex::encode(self.sign(parts).finalize().into_bytes())
    }

    fn verify(&self, parts: &[&str], signature: &str) -> bool {
        hex::decode(signature).is_ok_and(|bytes| self.sign(parts).verify_slice(&bytes).is_ok())
    }

    /// A new browser id and its cookie value.
    pub fn new_browser(&self) -> (String, String) {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let value = format!("{id}.{}", self.signature(&["browser", &id]));
        (id, value)
    }

    /// The browser id a cookie value holds, if this key signed it.
    pub fn browser(&self, value: &str) -> Option<String> {
        let (id, signature) = value.split_once('.')?;
        self.verify(&["browser", id], signature).then(|| id.to_string())
    }

    /// The token the page's forms carry for this browser: another site cannot
    /// read it, so it cannot post a form that passes.
    pub fn form_token(&self, browser: &str) -> String {
        self.signature(&["form", browser])
    }

    pub fn form_token_matches(&self, browser: &str, token: &str) -> bool {
        self.verify(&["form", browser], token)
    }

    /// A login's cookie value, valid until `expires` (Unix seconds) while
    /// the admin token stays `admin_token`.
    pub fn new_session(&self, admin_token: &str, expires: u64) -> String {
        let token_hash = blake3::hash(admin_token.as_bytes()).to_hex();
        format!("{expires}.{}", self.signature(&["session", &expires.to_string(), &token_hash]))
    }

    pub fn session_valid(&self, value: &str, admin_token: &str, now: u64) -> bool {
        let Some((expires, signature)) = value.split_once('.') else {
            return false;
        };
        let token_hash = blake3::hash(admin_token.as_bytes()).to_hex();
        expires.parse::<u64>().is_ok_and(|at| at > now) && self.verify(&["session", expires, &token_hash], signature)
    }
}

fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(file)?.write_all(text.as_bytes())
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value; `max_age` 0 removes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let line = format!("{name}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}", max_age.as_secs());
    HeaderValue::from_str(&line).expect("cookie values are ASCII")
}

/// Whether the request reached us over HTTPS (directly or, as a proxy says, before it).
pub fn over_https(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// The browser id given to a request that came without one, by
/// [`super::browser_cookie`]: its handler sees it as if the cookie had come.
#[derive(Debug, Clone)]
pub struct IssuedBrowser(pub String);

/// The browser asking, from its signed cookie; `None` without a valid one.
#[derive(Debug, Clone)]
pub struct Browser(pub Option<String>);

impl FromRequestParts<Ctx> for Browser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, context: &Ctx) -> Result<Self, Self::Rejection> {
        if let Some(IssuedBrowser(id)) = parts.extensions.get::<IssuedBrowser>() {
            return Ok(Browser(Some(id.clone())));
        }
        Ok(Browser(cookie(&parts.headers, BROWSER_COOKIE).and_then(|value| context.cookies.browser(value))))
    }
}

/// Whether the request carries a valid login (an admin session cookie).
#[derive(Debug, Clone, Copy)]
pub struct LoggedIn(pub bool);

impl FromRequestParts<Ctx> for LoggedIn {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, context: &Ctx) -> Result<Self, Self::Rejection> {
        let valid = match (&context.admin_token, cookie(&parts.headers, SESSION_COOKIE)) {
            (Some(token), Some(value)) => context.cookies.session_valid(value, token, now()),
            _ => false,
        };
        Ok(LoggedIn(valid))
    }
}

/// Checks a page form's token against the browser that posts it.
pub fn check_form_token(context: &Ctx, browser: &Browser, token: &str) -> Result<(), ApiError> {
    match &browser.0 {
        Some(id) if context.cookies.form_token_matches(id, token) => Ok(()),
        _ => Err(ApiError::CrossSite(
            "the form's token does not match this browser; reload the page and try again".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CookieKey {
        CookieKey { key: b"0123456789abcdef0123456789abcdef".to_vec() }
    }

    #[test]
    fn only_values_this_key_signed_are_believed() {
        let (id, value) = key().new_browser();
        assert_eq!(key().browser(&value), Some(id.clone()));
        let forged = format!("{}.{}", "f".repeat(32), value.split_once('.').unwrap().1);
        assert_eq!(key().browser(&forged), None);
        let other = CookieKey { key: b"another key another key another k".to_vec() };
        assert_eq!(other.browser(&value), None);
        assert_eq!(key().browser(&id), None);
        let token = key().form_token(&id);
        assert!(key().form_token_matches(&id, &token));
        assert!(!key().form_token_matches("someone-else", &token));
    }

    #[test]
    fn a_session_ends_when_it_expires_or_the_admin_token_changes() {
        let session = key().new_session("token-1", 1_000);
        assert!(key().session_valid(&session, "token-1", 999));
        assert!(!key().session_valid(&session, "token-1", 1_000));
        assert!(!key().session_valid(&session, "token-2", 999));
        let stretched = session.replacen("1000", "9000", 1);
        assert!(!key().session_valid(&stretched, "token-1", 999));
    }

    #[test]
    fn a_key_file_is_made_once_and_read_after() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cookie-key");
        let (_, value) = CookieKey::new(None, &file).unwrap().new_browser();
        assert!(CookieKey::new(None, &file).unwrap().browser(&value).is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&file, "not a key").unwrap();
        let error = CookieKey::new(None, &file).unwrap_err().to_string();
        assert!(error.contains("does not hold a cookie key"), "{error}");
        assert!(CookieKey::new(Some("short"), &file).unwrap_err().to_string().contains("at least 32"));
    }
}
