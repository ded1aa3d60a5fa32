//! Roost's HTTP edge.
//!
//! The only crate that knows about HTTP: routes, parameter decoding ([`params`]), the answer
//! envelope and the mapping of errors to status codes ([`envelope`]), the Telegram dialect of the
//! Bot API ([`telegram`]) and the client API with its event stream ([`client_api`]). Every handler
//! decodes a typed request, calls [`roost_core::Core`], and encodes the typed result.

pub mod client_api;
pub mod envelope;
pub mod koto;
pub mod opaque;
pub mod params;
pub mod quanta;
pub mod server;
pub mod telegram;
pub mod webhook;
pub mod wwchat;

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use roost_core::Core;
use roost_types::ApiError;
use tower::{Layer, Service};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// The whole HTTP application over a core: a service each connection clones.
///
/// Bot API method calls (`/bot<token>/<method>`, nearly all of a bot platform's traffic) go
/// straight to their handler; everything else goes through axum's router. Routing a method call
/// (matching it, percent-decoding both segments into the request and extracting them again) was
/// about a sixth of an HTTP worker's instructions per `sendMessage` (callgrind). Both paths have
/// the same layers, and a method call answers exactly as its route does.
pub fn app(
    core: Core,
    koto_prefix: String,
) -> App<impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone> {
    let router = Router::new()
        .merge(client_api::router())
        .merge(telegram::router())
        .merge(wwchat::router())
        .merge(koto::router(&koto_prefix))
        .merge(quanta::router())
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(|| async { envelope::HttpError(ApiError::NOT_FOUND).into_response() })
        .layer(DefaultBodyLimit::max(params::BODY_LIMIT))
        .layer(trace_layer())
        .layer(catch_panic_layer())
        .with_state(core.clone());
    let handler = tower::service_fn(move |req: Request| {
        let core = core.clone();
        // Boxed: the future holds the state of whichever method runs (a large enum), and the
        // layers and hyper's glue move it several times before its first poll; a box moves as
        // a pointer (a quarter less `memcpy` per call under callgrind, net of the allocation).
        Box::pin(async move { Ok::<_, Infallible>(telegram::method_call_direct(core, req).await) })
    });
    // In the order `Router::layer` gives them: the last added is the outermost.
    let layered = catch_panic_layer()
        .layer(trace_layer().layer(DefaultBodyLimit::max(params::BODY_LIMIT).layer(handler)));
    let method_calls = tower::util::MapResponseLayer::new(|response: axum::http::Response<_>| {
        response.map(axum::body::Body::new)
    })
    .layer(layered);
    App { router, method_calls }
}

/// See [`app`].
#[derive(Clone)]
pub struct App<M> {
    router: Router,
    method_calls: M,
}

impl<M> Service<Request> for App<M>
where
    M: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<axum::routing::future::RouteFuture<Infallible>, M::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        self.method_calls.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if telegram::method_call(req.uri().path()).is_some() {
            Either::Right(self.method_calls.call(req))
        } else {
            Either::Left(self.router.call(req))
        }
    }
}

/// One line at `info` per request, when it is answered: the HTTP method, which API and which of
/// its methods was called, the status and the time taken. Never the URI or a header: a bot's URI
/// holds its token, which must not reach the logs.
fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    fn(&Request) -> tracing::Span,
> {
    fn span(req: &Request) -> tracing::Span {
        let span = tracing::info_span!(
            "request",
            method = %req.method(),
            api = tracing::field::Empty,
            call = tracing::field::Empty
        );
        // Looked up only when the span is kept: not a cost of every request.
        if !span.is_disabled() {
            match api_call(req.uri().path()) {
                Some((api, call)) => {
                    span.record("api", tracing::field::display(api));
                    span.record("call", tracing::field::display(call));
                }
                None => {
                    if let Some(route) = req.extensions().get::<axum::extract::MatchedPath>() {
                        span.record("call", tracing::field::display(route.as_str()));
                    }
                }
            }
        }
        span
    }
    TraceLayer::new_for_http().make_span_with(span as fn(&Request) -> tracing::Span).on_response(
        tower_http::trace::DefaultOnResponse::new()
            .level(tracing::Level::INFO)
            .latency_unit(tower_http::LatencyUnit::Micros),
    )
}

/// The API and method a path calls (`("bot", "sendMessage")`), taken only from where each API
/// puts its method name, never from where it puts a token; `None` for anything else.
fn api_call(path: &str) -> Option<(&'static str, &str)> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let (api, call) = match segments.as_slice() {
        ["client", "v1", call] => ("client", *call),
        ["bot", "v1", _token, call] => ("wwchat", *call),
        ["koto", call] => ("koto", *call),
        ["api", "v1", "bot", call, ..] => ("quanta", *call),
        [token, call] if token.starts_with("bot") => ("bot", *call),
        _ => return None,
    };
    let plain =
        !call.is_empty() && call.len() <= 64 && call.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    plain.then_some((api, call))
}

fn catch_panic_layer() -> CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> Response> {
    fn answer(_: Box<dyn std::any::Any + Send>) -> Response {
        tracing::error!("a request handler panicked");
        envelope::HttpError(ApiError::INTERNAL).into_response()
    }
    CatchPanicLayer::custom(answer as fn(Box<dyn std::any::Any + Send>) -> Response)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_logged_method_never_comes_from_a_tokens_place() {
        use super::api_call;
        assert_eq!(api_call("/bot123:abc/sendMessage"), Some(("bot", "sendMessage")));
        assert_eq!(api_call("/client/v1/getChats"), Some(("client", "getChats")));
        assert_eq!(api_call("/bot/v1/123:abc/getMe"), Some(("wwchat", "getMe")));
        assert_eq!(api_call("/bot123:abc"), None);
        assert_eq!(api_call("/bot123:abc/"), None);
        assert_eq!(api_call("/bot1/a:b"), None, "a method name has no colon");
        assert_eq!(api_call("/healthz"), None);
    }
}
