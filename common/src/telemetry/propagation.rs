//! W3C trace context (`traceparent`, `tracestate`) in HTTP headers — the same
//! headers gRPC metadata travels in.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator as _},
};
use opentelemetry_sdk::propagation::TraceContextPropagator;

struct Read<'a>(&'a HeaderMap);

impl Extractor for Read<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct Write<'a>(&'a mut HeaderMap);

impl Injector for Write<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The caller's trace context, or an empty one (a new trace starts here).
pub fn extract_context(headers: &HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&Read(headers))
}

/// Writes `context` as `traceparent`/`tracestate`, replacing any already there.
pub fn inject_context(context: &Context, headers: &mut HeaderMap) {
    TraceContextPropagator::new().inject_context(context, &mut Write(headers));
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceContextExt as _;

    use super::*;

    #[test]
    fn a_traceparent_survives_a_round_trip() {
        let mut incoming = HeaderMap::new();
        incoming.insert(
            "traceparent",
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let context = extract_context(&incoming);
        assert_eq!(
            context.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let mut outgoing = HeaderMap::new();
        inject_context(&context, &mut outgoing);
        assert_eq!(outgoing["traceparent"], incoming["traceparent"]);
    }

    #[test]
    fn garbage_starts_a_new_trace() {
        let mut incoming = HeaderMap::new();
        incoming.insert("traceparent", HeaderValue::from_static("00-zz-yy-01"));
        assert!(!extract_context(&incoming).span().span_context().is_valid());
    }
}
