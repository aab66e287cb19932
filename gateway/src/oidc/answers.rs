//! The sign-in's HTTP answers: the page a failure shows (its status and
//! its words, never a bare 500), redirects, and the cookies that carry an
//! attempt and the token's handoff. Nothing here is cached by the browser or
//! a proxy (`no-store`): each answer belongs to one sign-in.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::SignInFailure;

impl IntoResponse for SignInFailure {
    fn into_response(self) -> Response {
        let status = match &self {
            SignInFailure::Provider(_) => StatusCode::BAD_GATEWAY,
            SignInFailure::Refused(_) | SignInFailure::Token(_) => StatusCode::UNAUTHORIZED,
            SignInFailure::Callback(_) => StatusCode::BAD_REQUEST,
            SignInFailure::Claim(_) => StatusCode::FORBIDDEN,
        };
        let message = self.to_string();
        tracing::warn!(status = status.as_u16(), "sign-in failed: {message}");
        let page = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in failed · Archive</title></head>\n\
             <body><main><h1>Sign-in failed</h1>\n<p id=\"reason\">{}</p>\n\
             <p><a href=\"/\">Back to the Archive</a></p></main></body></html>\n",
            escape(&message)
        );
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(super) fn no_store(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A 303 to `location`, setting `cookies`.
pub(super) fn redirect(location: &str, cookies: &[String]) -> Response {
    let mut response = no_store(StatusCode::SEE_OTHER);
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
        }
        Err(_) => {
            return SignInFailure::Provider(format!("{location:?} is not a usable URL"))
                .into_response();
        }
    }
    for cookie in cookies {
        append_cookie(&mut response, cookie);
    }
    response
}

pub(super) fn append_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

pub(super) fn cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    same_site: &str,
    secure: bool,
) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}"
    )
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(super) fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v)
}
