//! The HTTP server: liveness, readiness, Prometheus metrics, the JSON API and the on-call page.
//!
//! The one module that names `axum`. Every error answer is Defender's own envelope,
//! `{"error":{"code":...,"message":...,"target":<new GUID>}}`, and the same GUID is in the log
//! line, so a user's report can be matched with what the server saw. The server stops on the
//! process's one shutdown path: the caller raises `stop`, the server finishes the requests in
//! flight and `serve` returns.

mod api;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::warn;

use crate::guid::Guid;
use crate::json;
use crate::metrics::{self, Metrics};
use crate::store::{Store, StoreError};

/// The address the server listens on unless told otherwise: this machine only.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:9188";

/// How long readiness waits for ClickHouse to answer.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// What the handlers share.
#[derive(Debug, Clone)]
struct Shared {
    store: Store,
    metrics: Arc<Metrics>,
    /// Whether this process consumes Kafka: then it is ready only while it holds partitions.
    consuming: bool,
    stop: watch::Receiver<bool>,
}

/// A bound listener, so that the address (a free port when asked for port 0) is known
/// before serving starts.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
}

impl Server {
    pub async fn bind(address: SocketAddr) -> std::io::Result<Server> {
        Ok(Server { listener: TcpListener::bind(address).await? })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` turns true.
    pub async fn serve(
        self,
        store: Store,
        metrics: Arc<Metrics>,
        consuming: bool,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<()> {
        let shared = Shared { store, metrics, consuming, stop: stop.clone() };
        let mut stopped = stop;
        axum::serve(self.listener, router(shared))
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
    }
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .nest("/api/v1", api::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        include_str!("page.html"),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when ClickHouse answers and, for a consumer, partitions are assigned; never while
/// stopping, so that a load balancer moves away first.
async fn readyz(axum::extract::State(shared): axum::extract::State<Shared>) -> Response {
    let clickhouse = match tokio::time::timeout(READINESS_TIMEOUT, shared.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("ClickHouse did not answer within {READINESS_TIMEOUT:?}")),
    };
    shared.metrics.set_clickhouse_up(clickhouse.is_ok());
    let partitions = shared.metrics.partitions_assigned();
    let mut reasons = Vec::new();
    if let Err(reason) = clickhouse {
        reasons.push(reason);
    }
    if shared.consuming && partitions == 0 {
        reasons.push("no Kafka partitions assigned".to_owned());
    }
    if *shared.stop.borrow() {
        reasons.push("shutting down".to_owned());
    }
    #[derive(serde::Serialize)]
    struct Readiness {
        ready: bool,
        partitions_assigned: Option<i64>,
        reasons: Vec<String>,
    }
    let status = if reasons.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body =
        Readiness { ready: reasons.is_empty(), partitions_assigned: shared.consuming.then_some(partitions), reasons };
    json_response(status, &body)
}

async fn metrics_text(axum::extract::State(shared): axum::extract::State<Shared>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static(metrics::CONTENT_TYPE))], shared.metrics.render()).into_response()
}

async fn not_found() -> Response {
    Problem::new(StatusCode::NOT_FOUND, "NotFound", "no such endpoint; the API is described at /api/v1/openapi.json")
        .into_response()
}

async fn method_not_allowed() -> Response {
    Problem::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "this endpoint answers GET only").into_response()
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json::to_string(body))
        .into_response()
}

/// An error answer in Defender's envelope.
#[derive(Debug)]
struct Problem {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Problem {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Problem {
        Problem { status, code, message: message.into() }
    }

    fn invalid(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Problem {
        match error {
            StoreError::Unreachable { .. } | StoreError::Transient { .. } => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", error.to_string())
            }
            StoreError::Rejected { .. } => {
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", error.to_string())
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let target = Guid::new_random().to_string();
        if self.status.is_server_error() {
            warn!(status = self.status.as_u16(), code = self.code, %target, message = %self.message, "request failed");
        } else {
            tracing::info!(status = self.status.as_u16(), code = self.code, %target, message = %self.message, "request refused");
        }
        #[derive(serde::Serialize)]
        struct Envelope<'a> {
            error: Body<'a>,
        }
        #[derive(serde::Serialize)]
        struct Body<'a> {
            code: &'a str,
            message: &'a str,
            target: &'a str,
        }
        let envelope = Envelope { error: Body { code: self.code, message: &self.message, target: &target } };
        json_response(self.status, &envelope)
    }
}
