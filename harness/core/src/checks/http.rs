//! HTTP exchanges with the service under test, recorded for evidence.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::Timeline;

/// How long the harness waits for any single response from a service.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Most bytes of a response body the harness reads from a service. Every answer the
/// briefs ask for is a few hundred bytes; a service that streams without end must not
/// exhaust the grader's memory, so the rest is cut (and the exchange says so).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// One request to the service and what came back.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `POST /charges`.
    pub request_line: String,
    /// Headers worth showing (e.g. the idempotency key).
    pub shown_headers: Vec<(String, String)>,
    /// The body sent, verbatim.
    pub body_sent: Option<String>,
    /// The response status, or `None` when no response came.
    pub status: Option<u16>,
    /// The response body, parsed as JSON when it is JSON.
    pub body: Option<Value>,
    /// The raw body when it is not JSON.
    pub raw_body: Option<String>,
    /// Whether the response declared `application/json`.
    pub json_content_type: bool,
    /// Transport error when no response came, or when the body broke off.
    pub error: Option<String>,
    /// The body went on past [`MAX_BODY_BYTES`] and was cut there; `raw_body` holds
    /// what was read and `body` is never set from a cut body.
    pub body_cut: bool,
}

impl Exchange {
    /// True for a 2xx response.
    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// A string field of the JSON body.
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.body.as_ref()?.get(name)?.as_str()
    }

    /// An integer field of the JSON body.
    pub fn i64_field(&self, name: &str) -> Option<i64> {
        self.body.as_ref()?.get(name)?.as_i64()
    }

    /// True when the body is a JSON object carrying an `error`.
    pub fn is_json_error(&self) -> bool {
        self.json_content_type && self.body.as_ref().is_some_and(|b| b.get("error").is_some())
    }
}

impl fmt::Display for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.request_line)?;
        for (name, value) in &self.shown_headers {
            write!(f, " [{name}: {value}]")?;
        }
        if let Some(body) = &self.body_sent {
            write!(f, " {}", clip(body, 160))?;
        }
        match (self.status, &self.error) {
            (Some(status), _) => {
                write!(f, " → {status}")?;
                if let Some(body) = &self.body {
                    write!(f, " {}", clip(&body.to_string(), 240))?;
                } else if let Some(raw) = &self.raw_body {
                    write!(f, " {:?}", clip(raw, 120))?;
                }
                if self.body_cut {
                    write!(f, " (body over {MAX_BODY_BYTES} bytes, cut)")?;
                }
                Ok(())
            }
            (None, Some(e)) => write!(f, " → no response ({e})"),
            (None, None) => write!(f, " → no response"),
        }
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// Sends a request and records the exchange (and, on the check's timeline, when it was
/// sent and when its answer came); never fails, a transport error is recorded.
pub async fn send(
    timeline: &Timeline,
    client: &reqwest::Client,
    method: reqwest::Method,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Exchange {
    send_within(
        timeline,
        client,
        method,
        base,
        path,
        headers,
        body,
        REQUEST_TIMEOUT,
    )
    .await
}

/// Like [`send`], giving up after `timeout` (recorded as "no response").
#[allow(clippy::too_many_arguments)]
pub async fn send_within(
    timeline: &Timeline,
    client: &reqwest::Client,
    method: reqwest::Method,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
    timeout: Duration,
) -> Exchange {
    // No timeout of reqwest's own: `listen` gives up, later if the harness was paused.
    let mut request = client.request(method.clone(), format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = &body {
        request = request.body(body.clone());
    }
    let mut exchange = Exchange {
        request_line: format!("{method} {path}"),
        shown_headers: headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("content-type"))
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body_sent: body,
        status: None,
        body: None,
        raw_body: None,
        json_content_type: false,
        error: None,
        body_cut: false,
    };
    let asked = asked(&exchange);
    timeline.record("client", format!("→ {asked}"));
    let fetched = async {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        Ok::<_, reqwest::Error>((status, json, read_capped(response, MAX_BODY_BYTES).await))
    };
    match listen(timeline, timeout, fetched).await {
        Listened::GaveUp { extra } => {
            exchange.error = Some(match extra {
                None => format!("timed out after {:.1}s", timeout.as_secs_f64()),
                Some(extra) => format!(
                    "timed out after {:.1}s and {:.1}s more past a pause of the harness",
                    timeout.as_secs_f64(),
                    extra.as_secs_f64()
                ),
            })
        }
        Listened::Came(Err(e)) => exchange.error = Some(describe_transport_error(&e, timeout)),
        Listened::Came(Ok((status, json, body))) => {
            exchange.status = Some(status);
            exchange.json_content_type = json;
            match body {
                Ok(Capped::Whole(bytes)) => match serde_json::from_slice::<Value>(&bytes) {
                    Ok(v) => exchange.body = Some(v),
                    Err(_) => {
                        exchange.raw_body = Some(String::from_utf8_lossy(&bytes).into_owned())
                    }
                },
                Ok(Capped::Cut(bytes)) => {
                    exchange.body_cut = true;
                    exchange.raw_body = Some(String::from_utf8_lossy(&bytes).into_owned());
                }
                Err(e) => exchange.error = Some(describe_transport_error(&e, timeout)),
            }
        }
    }
    timeline.record("client", format!("← {asked}: {}", answer(&exchange)));
    exchange
}

/// How a request waited on with [`listen`] ended.
enum Listened<T> {
    /// It finished.
    Came(T),
    /// The harness gave up; `extra` is how long it waited past the timeout because it
    /// had been paused.
    GaveUp { extra: Option<Duration> },
}

/// The longest a give-up is put off for the harness's pauses: past it, the request's
/// judges leave it out (see [`super::pauses::service_time`]).
const MAX_EXTRA: Duration = Duration::from_secs(10);

/// Waits `timeout` for `fetched`; if the harness was paused less than
/// [`HEARD_AFTER`](super::pauses::HEARD_AFTER) before giving up, it keeps listening
/// until that long after the pause (at most [`MAX_EXTRA`] more). An answer the service
/// sent during a pause is read as the harness resumes, so without this a give-up right
/// after a pause could not tell a hang from an answer waiting in the socket — and
/// would leave the hang unjudged.
async fn listen<T>(
    timeline: &Timeline,
    timeout: Duration,
    fetched: impl std::future::Future<Output = T>,
) -> Listened<T> {
    let started = tokio::time::Instant::now();
    let mut deadline = started + timeout;
    let latest = started + timeout + MAX_EXTRA;
    tokio::pin!(fetched);
    loop {
        if let Ok(done) = tokio::time::timeout_at(deadline, &mut fetched).await {
            return Listened::Came(done);
        }
        let resumed = timeline.pauses().iter().map(|p| p.until).max();
        let heard_until =
            resumed.map(|r| tokio::time::Instant::from_std(r + super::pauses::HEARD_AFTER));
        match heard_until {
            Some(until) if until > deadline && deadline < latest => deadline = until.min(latest),
            _ => {
                let waited = deadline.saturating_duration_since(started);
                return Listened::GaveUp {
                    extra: (waited > timeout).then(|| waited - timeout),
                };
            }
        }
    }
}

/// `POST /charges [Idempotency-Key: k1]`: the request, as a timeline shows it.
fn asked(x: &Exchange) -> String {
    let mut line = x.request_line.clone();
    for (name, value) in &x.shown_headers {
        line.push_str(&format!(" [{name}: {value}]"));
    }
    line
}

/// `201 {"id":…}` or `no response (timed out after 10.0s)`: the answer, in brief.
fn answer(x: &Exchange) -> String {
    match (x.status, &x.error) {
        (Some(status), _) => {
            let body = x
                .body
                .as_ref()
                .map(|b| b.to_string())
                .or_else(|| x.raw_body.clone())
                .unwrap_or_default();
            format!("{status} {}", clip(&body, 100))
                .trim_end()
                .to_owned()
        }
        (None, Some(e)) => format!("no response ({e})"),
        (None, None) => "no response".to_owned(),
    }
}

/// A response body read up to a cap.
enum Capped {
    /// The whole body.
    Whole(Vec<u8>),
    /// The first `cap` bytes of a longer body; the rest was never read.
    Cut(Vec<u8>),
}

/// Reads `response`'s body chunk by chunk, stopping at `cap` bytes (the connection is
/// dropped with the response, so the service's remaining bytes are never buffered).
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Capped, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok(Capped::Cut(body));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Capped::Whole(body))
}

fn describe_transport_error(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("timed out after {:.1}s", timeout.as_secs_f64())
    } else if e.is_connect() {
        "connection refused".to_owned()
    } else {
        "connection closed".to_owned()
    }
}

/// A client that gives up mid-request, for certain: sends `POST {path}` with `headers`
/// and `body` to `base` (an `http://host:port` URL) over a connection of its own, waits
/// for `reached` (the request has got somewhere the check can see, e.g. a held
/// downstream call), then closes the connection without reading an answer. Returns
/// whether `reached` happened; the connection is closed either way. A pooled client
/// that times out may keep its connection for a while, so a disconnect is not left to
/// one.
pub async fn post_then_hang_up(
    timeline: &Timeline,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    reached: impl std::future::Future<Output = bool>,
) -> std::io::Result<bool> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    send_then_hang_up(timeline, base, &format!("POST {path}"), head, body, reached).await
}

/// Like [`post_then_hang_up`] for `GET {path}`: a client that gives up on a read, e.g.
/// a quote whose pricing call the harness holds.
pub async fn get_then_hang_up(
    timeline: &Timeline,
    base: &str,
    path: &str,
    reached: impl std::future::Future<Output = bool>,
) -> std::io::Result<bool> {
    let head = format!("GET {path} HTTP/1.1\r\n");
    send_then_hang_up(timeline, base, &format!("GET {path}"), head, "", reached).await
}

/// Sends `head` (the request line and headers, each ended by CRLF; `host` is added)
/// and `body` over a connection of its own, waits for `reached`, then closes it.
async fn send_then_hang_up(
    timeline: &Timeline,
    base: &str,
    label: &str,
    head: String,
    body: &str,
    reached: impl std::future::Future<Output = bool>,
) -> std::io::Result<bool> {
    use tokio::io::AsyncWriteExt;
    let authority = base
        .strip_prefix("http://")
        .unwrap_or(base)
        .trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let request = format!("{head}host: {authority}\r\n\r\n{body}");
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    timeline.record("client", format!("→ {label} (this client will hang up)"));
    let happened = reached.await;
    // Close both directions now: the service sees the client gone.
    let _ = stream.shutdown().await;
    drop(stream);
    timeline.record(
        "client",
        format!("✂ hung up on {label} without reading an answer"),
    );
    Ok(happened)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A service that answers 200 and streams a body that never ends.
    async fn endless_service() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "z".repeat(64 * 1024));
            while socket.write_all(chunk.as_bytes()).await.is_ok() {}
        });
        format!("http://{addr}")
    }

    /// A request that never ends is given up at its timeout, and later only when the
    /// harness was paused (a loaded machine may pause this test's runtime too).
    #[tokio::test(flavor = "current_thread")]
    async fn a_hang_is_given_up_at_the_timeout() {
        let timeline = Timeline::new();
        let _watch = super::super::pauses::Watch::start(timeline.clone());
        let started = std::time::Instant::now();
        let listened = listen(
            &timeline,
            Duration::from_millis(300),
            std::future::pending::<()>(),
        )
        .await;
        assert!(started.elapsed() >= Duration::from_millis(300));
        match listened {
            Listened::GaveUp { extra: None } => {}
            Listened::GaveUp { extra: Some(extra) } => assert!(
                !timeline.pauses().is_empty(),
                "waited {extra:?} past the timeout with no pause"
            ),
            Listened::Came(()) => panic!("a pending future came"),
        }
    }

    /// A give-up due while the harness was paused waits until the harness has listened
    /// for `HEARD_AFTER` after the pause; an answer that comes meanwhile is read.
    #[tokio::test(flavor = "current_thread")]
    async fn a_give_up_after_a_pause_listens_past_it() {
        use super::super::pauses::HEARD_AFTER;
        let timeline = Timeline::new();
        let _watch = super::super::pauses::Watch::start(timeline.clone());
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        // Blocks the only worker from 100 ms to 700 ms, past the 300 ms timeout.
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            std::thread::sleep(Duration::from_millis(600));
        });
        let listened = listen(
            &timeline,
            Duration::from_millis(300),
            std::future::pending::<()>(),
        )
        .await;
        let Listened::GaveUp { extra: Some(extra) } = listened else {
            panic!("gave up without listening past the pause");
        };
        assert!(
            started.elapsed() >= Duration::from_millis(700) + HEARD_AFTER,
            "{:?}",
            started.elapsed()
        );
        assert!(
            extra >= Duration::from_millis(400) + HEARD_AFTER,
            "{extra:?}"
        );

        // The same pause, with an answer that comes 300 ms after it: read, not given up.
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            std::thread::sleep(Duration::from_millis(600));
        });
        let answer = async {
            tokio::time::sleep(Duration::from_millis(1_000)).await;
            7
        };
        let listened = listen(&timeline, Duration::from_millis(300), answer).await;
        assert!(matches!(listened, Listened::Came(7)));
    }

    #[tokio::test]
    async fn an_endless_body_is_cut_at_the_cap() {
        let base = endless_service().await;
        let client = reqwest::Client::new();
        let timeline = Timeline::new();
        let exchange = send_within(
            &timeline,
            &client,
            reqwest::Method::GET,
            &base,
            "/",
            &[],
            None,
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(exchange.status, Some(200));
        assert!(exchange.body_cut, "{exchange}");
        let moments: Vec<String> = timeline
            .take()
            .moments
            .into_iter()
            .map(|m| m.what)
            .collect();
        assert_eq!(moments.len(), 2, "{moments:?}");
        assert_eq!(moments[0], "→ GET /");
        assert!(moments[1].starts_with("← GET /: 200 zzz"), "{moments:?}");
        assert_eq!(
            exchange.raw_body.as_ref().map(String::len),
            Some(MAX_BODY_BYTES)
        );
        assert!(exchange.body.is_none());
        assert!(
            exchange
                .to_string()
                .ends_with("(body over 1048576 bytes, cut)"),
            "{exchange}"
        );
    }
}
