//! `X-Signal-Timestamp` on every response: clients use it to confirm they reached a Signal
//! server and to correct their clocks.

use axum::http::HeaderValue;
use axum::response::Response;

/// The header name.
pub const HEADER: &str = "x-signal-timestamp";

/// Current time in epoch milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Middleware body: stamps the response.
pub async fn add_timestamp(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(HEADER, HeaderValue::from(now_ms()));
    resp
}
