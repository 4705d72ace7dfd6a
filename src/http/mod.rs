//! The HTTP server: liveness, readiness, Prometheus metrics, the JSON API and the on-call page.
//!
//! The one module that names `axum`. Every error answer is Defender's own envelope,
//! `{"error":{"code":...,"message":...,"target":<new GUID>}}`, and the same GUID is in the log
//! line, so a user's report can be matched with what the server saw. The server stops on the
//! process's one shutdown path: the caller raises `stop`, the server finishes the requests in
//! flight and `serve` returns.

pub mod api;

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

/// Who may ask what.
#[derive(Clone, Default)]
pub struct Access {
    /// When set, `/api/*` needs `Authorization: Bearer <token>`; the page asks for it.
    pub token: Option<String>,
    /// Whether `/metrics`, `/healthz` and `/readyz` need the token too.
    pub token_for_operations: bool,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_for_operations", &self.token_for_operations)
            .finish()
    }
}

/// Why the server refuses to start with the access asked for.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(
        "the HTTP API would serve error messages (tenants, machines, users) to the network at {0} without a token; \
         set ERRWATCH_API_TOKEN or --api-token-file, bind to 127.0.0.1, or pass --insecure-no-auth"
    )]
    OpenToTheNetwork(SocketAddr),
    #[error("the API token must be at least {MIN_TOKEN_LENGTH} characters")]
    WeakToken,
}

/// Shorter tokens are guessable.
pub const MIN_TOKEN_LENGTH: usize = 16;

impl Access {
    /// Checks that the API is not open to the network unless the operator said so.
    pub fn check(&self, address: SocketAddr, insecure_no_auth: bool) -> Result<(), AccessError> {
        match &self.token {
            Some(token) if token.len() < MIN_TOKEN_LENGTH => Err(AccessError::WeakToken),
            Some(_) => Ok(()),
            None if address.ip().is_loopback() || insecure_no_auth => Ok(()),
            None => Err(AccessError::OpenToTheNetwork(address)),
        }
    }

    /// Whether `header` (the whole Authorization value) carries the token; compared in
    /// constant time, so that timing does not tell how much of a guess was right.
    fn allows(&self, header: Option<&[u8]>) -> bool {
        let Some(token) = &self.token else { return true };
        let Some(presented) = header.and_then(|value| value.strip_prefix(b"Bearer ")) else { return false };
        let expected = token.as_bytes();
        let mut difference = u8::from(presented.len() != expected.len());
        for (index, byte) in expected.iter().enumerate() {
            difference |= byte ^ presented.get(index).copied().unwrap_or(0);
        }
        difference == 0
    }
}

/// What the handlers share.
#[derive(Debug, Clone)]
struct Shared {
    store: Store,
    metrics: Arc<Metrics>,
    /// Whether this process consumes Kafka: then it is ready only while it holds partitions.
    consuming: bool,
    /// Whether the schema is in place: the server starts before ClickHouse may be reached.
    prepared: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
    access: Arc<Access>,
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

    /// Serves until `stop` turns true; ready only once `prepared` is.
    pub async fn serve(
        self,
        store: Store,
        metrics: Arc<Metrics>,
        access: Access,
        consuming: bool,
        prepared: watch::Receiver<bool>,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<()> {
        let shared = Shared { store, metrics, consuming, prepared, stop: stop.clone(), access: Arc::new(access) };
        let mut stopped = stop;
        axum::serve(self.listener, router(shared))
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
    }
}

/// A server serving on the runtime until [`Running::finish`].
#[derive(Debug)]
pub struct Running {
    pub address: SocketAddr,
    prepared: watch::Sender<bool>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds `address` and serves on `runtime`; `consuming` says whether readiness needs Kafka
/// partitions. Not ready before [`Running::prepared`].
pub fn start(
    runtime: &tokio::runtime::Runtime,
    address: SocketAddr,
    access: Access,
    store: &Store,
    metrics: &Arc<Metrics>,
    consuming: bool,
) -> std::io::Result<Running> {
    let server = runtime.block_on(Server::bind(address))?;
    let address = server.local_addr()?;
    tracing::info!(%address, "http listening");
    let (prepared, schema) = watch::channel(false);
    let (stop, stopped) = watch::channel(false);
    let task = runtime.spawn(server.serve(store.clone(), metrics.clone(), access, consuming, schema, stopped));
    Ok(Running { address, prepared, stop, task })
}

impl Running {
    /// The schema is in place: readiness may answer yes from now on.
    pub fn prepared(&self) {
        self.prepared.send_replace(true);
    }

    /// Returns only when the server failed: it does not end by itself otherwise.
    pub async fn failed(&mut self) {
        let _ = (&mut self.task).await;
    }

    /// Stops serving and waits a little for requests in flight; the process is ending either way.
    pub fn finish(self, runtime: &tokio::runtime::Runtime) {
        self.stop.send_replace(true);
        let task = self.task;
        // The timer must be made inside the runtime.
        match runtime.block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await }) {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => warn!(%error, "the HTTP server failed"),
            Ok(Err(error)) => warn!(%error, "the HTTP server task failed"),
            Err(_) => warn!("the HTTP server did not stop within 5 s"),
        }
    }
}

fn router(shared: Shared) -> Router {
    let guarded = Router::new().nest(api::PREFIX, api::routes());
    let operations = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text));
    let (guarded, operations) = if shared.access.token_for_operations {
        (guarded.merge(operations), Router::new())
    } else {
        (guarded, operations)
    };
    // The page holds no data, only the script that asks the API (with the token, which it
    // asks the user for): a browser opening it sends no Authorization header.
    let open = operations
        .route("/", get(page))
        .route("/page.js", get(page_script))
        .route("/page.css", get(page_style))
        .method_not_allowed_fallback(method_not_allowed);
    guarded
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), require_token))
        .merge(open)
        .with_state(shared)
        .layer(axum::middleware::map_response(security_headers))
}

/// The policy every answer carries: scripts, styles and requests from this server only, none
/// inline (the page keeps its script and style in files of their own), and no framing.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page shows text that whoever writes a log line chose, and writes it as text; should a
/// mistake ever let such text become markup, the browser still runs no script but the page's
/// own, and no other site can frame the page or sniff an answer into something it runs.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Refuses requests without the token, in Defender's envelope.
async fn require_token(
    axum::extract::State(shared): axum::extract::State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let header = request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
    if shared.access.allows(header) {
        return next.run(request).await;
    }
    let mut answer =
        Problem::new(StatusCode::UNAUTHORIZED, "Unauthorized", "this endpoint needs Authorization: Bearer <token>")
            .into_response();
    answer.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    answer
}

async fn page() -> Response {
    page_file("text/html; charset=utf-8", include_str!("page.html"))
}

async fn page_script() -> Response {
    page_file("text/javascript; charset=utf-8", include_str!("page.js"))
}

async fn page_style() -> Response {
    page_file("text/css; charset=utf-8", include_str!("page.css"))
}

/// One of the page's files; asked for again on every visit, so that a new version's page never
/// runs an old script.
fn page_file(content_type: &'static str, text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        text,
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when ClickHouse answers, the schema is prepared and, for a consumer, partitions are assigned; never while
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
    if !*shared.prepared.borrow() {
        reasons.push("the schema is not prepared yet".to_owned());
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
            StoreError::Rejected { .. } | StoreError::Settings(_) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_checked_whole() {
        let access = Access { token: Some("s3cret-token-0123456789".into()), token_for_operations: false };
        assert!(access.allows(Some(b"Bearer s3cret-token-0123456789")));
        for wrong in [
            &b"Bearer s3cret-token-012345678"[..],
            b"Bearer s3cret-token-01234567890",
            b"Bearer S3cret-token-0123456789",
            b"bearer s3cret-token-0123456789",
            b"s3cret-token-0123456789",
            b"Bearer ",
            b"",
        ] {
            assert!(!access.allows(Some(wrong)), "{}", String::from_utf8_lossy(wrong));
        }
        assert!(!access.allows(None));
        assert!(Access::default().allows(None), "no token, no check");
    }

    /// Every tag of `html` by its name (lower case) and the text inside its brackets.
    fn tags(html: &str) -> Vec<(String, String)> {
        html.split('<')
            .skip(1)
            .filter_map(|rest| rest.split_once('>'))
            .map(|(inside, _)| {
                let name = inside.split(|c: char| c.is_whitespace()).next().unwrap_or_default().to_ascii_lowercase();
                (name, inside.to_ascii_lowercase())
            })
            .collect()
    }

    /// What the policy refuses to run: a script without `src`, a style element or attribute,
    /// an event handler attribute, a `javascript:` URL.
    fn inline_code(html: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (name, inside) in tags(html) {
            let attributes: Vec<&str> = inside.split(|c: char| c.is_whitespace()).skip(1).collect();
            let named = |attribute: &str| attributes.iter().any(|a| a.split('=').next() == Some(attribute));
            if (name == "script" && !named("src"))
                || name == "style"
                || named("style")
                || attributes.iter().any(|a| a.starts_with("on") && a.contains('='))
                || inside.contains("javascript:")
            {
                found.push(inside);
            }
        }
        found
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let check = |html: &str, inline: bool| assert_eq!(!inline_code(html).is_empty(), inline, "{html}");
        check(include_str!("page.html"), false);
        check(r#"<script src="page.js"></script>"#, false);
        check(r#"<label class="range">Last</label>"#, false);
        check("<script>alert(1)</script>", true);
        check("<SCRIPT type=module>alert(1)</SCRIPT>", true);
        check("<style>body {}</style>", true);
        check(r#"<label style="margin: 0">"#, true);
        check(r#"<button onclick="go()">"#, true);
        check(r#"<a href="javascript:go()">"#, true);
    }

    #[test]
    fn the_network_needs_a_token_or_an_explicit_choice() {
        let loopback: SocketAddr = ([127, 0, 0, 1], 9188).into();
        let anywhere: SocketAddr = ([0, 0, 0, 0], 9188).into();
        let open = Access::default();
        assert!(open.check(loopback, false).is_ok());
        assert!(matches!(open.check(anywhere, false), Err(AccessError::OpenToTheNetwork(_))));
        assert!(open.check(anywhere, true).is_ok());
        let guarded = Access { token: Some("a-long-enough-token".into()), token_for_operations: false };
        assert!(guarded.check(anywhere, false).is_ok());
        let weak = Access { token: Some("short".into()), token_for_operations: false };
        assert!(matches!(weak.check(loopback, false), Err(AccessError::WeakToken)));
        assert!(!format!("{guarded:?}").contains("a-long-enough-token"));
    }
}
