//! axum's extractors with rejections that are problems: a client that sends
//! bad JSON, a bad query string or a path that is not UTF-8 gets
//! `application/problem+json` naming what is wrong, like every other error.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use super::ApiError;

/// `axum::Json` whose rejections are problems.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    axum::Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
        Ok(Json(value))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` whose rejections (a segment that is not UTF-8) are problems.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                Err(ApiError::MalformedPath(format!("the path is not valid: {}", e.body_text())))
            }
            Err(other) => Err(ApiError::MalformedPath(other.body_text())),
        }
    }
}

/// `axum::extract::Query` that refuses a query string whose percent-encoded
/// bytes are not UTF-8, where axum would replace them silently: a question
/// must reach the index as the client wrote it, or not at all.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(query) = parts.uri.query() {
            check_utf8(query)?;
        }
        let axum::extract::Query(value) = axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

/// An optional count as the OpenAPI document's `integer` allows it: JSON
/// Schema counts `73.0` as an integer, and a query string holds text, where
/// serde's `usize` would refuse the first and needs no help with the second.
pub fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Whole(u64),
        Number(f64),
        Text(String),
    }
    let value = match Option::<Given>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(Given::Whole(n)) => n as f64,
        Some(Given::Number(n)) => n,
        Some(Given::Text(text)) => text.trim().parse::<f64>().map_err(|_| serde::de::Error::custom(format!("{text:?} is not a whole number")))?,
    };
    if value.fract() != 0.0 || !(0.0..=usize::MAX as f64).contains(&value) {
        return Err(serde::de::Error::custom(format!("{value} is not a whole number of 0 or more")));
    }
    Ok(Some(value as usize))
}

/// Every name and value of an `application/x-www-form-urlencoded` query decodes to UTF-8.
fn check_utf8(query: &str) -> Result<(), ApiError> {
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        for part in [name, value] {
            let bytes: Vec<u8> = percent_encoding::percent_decode_str(part).collect();
            if std::str::from_utf8(&bytes).is_err() {
                let name = String::from_utf8_lossy(&percent_encoding::percent_decode_str(name).collect::<Vec<u8>>()).into_owned();
                return Err(ApiError::MalformedQuery(format!(
                    "the query parameter `{name}` is not valid UTF-8 once percent-decoded"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_must_decode_to_utf8() {
        assert!(check_utf8("q=caf%C3%A9+au+lait&k=3").is_ok());
        assert!(check_utf8("flag&q=").is_ok());
        let bad = check_utf8("k=1&q=%FF%FEabc").unwrap_err().to_string();
        assert!(bad.contains("`q`") && bad.contains("UTF-8"), "{bad}");
    }

    #[test]
    fn counts_may_be_written_as_whole_floats_but_not_as_fractions() {
        #[derive(Deserialize)]
        struct Body {
            #[serde(default, deserialize_with = "whole_number")]
            k: Option<usize>,
        }
        let k = |json: &str| serde_json::from_str::<Body>(json).map(|b| b.k);
        assert_eq!(k(r#"{"k": 73.0}"#).unwrap(), Some(73));
        assert_eq!(k(r#"{"k": 5}"#).unwrap(), Some(5));
        assert_eq!(k(r#"{}"#).unwrap(), None);
        assert!(k(r#"{"k": 7.5}"#).is_err() && k(r#"{"k": -1}"#).is_err());
        let query: Body = serde_urlencoded::from_str("k=12").unwrap();
        assert_eq!(query.k, Some(12));
    }
}
