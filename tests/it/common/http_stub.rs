//! A recording HTTP server on 127.0.0.1 for the end-to-end tests: it stands in for an
//! exporter or for EventListeners. Every request is recorded (method, path, body, when it
//! arrived) before it is answered, and the answer is programmable per request (status,
//! `Location`, body). Each connection is served on its own thread and closed after one
//! reply; dropping the stub stops accepting.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// One request as the stub received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The request target, e.g. `/el-ct-listener-user1-toolings.apps.example.com/`.
    pub path: String,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    pub fn ok(body: impl Into<String>) -> Reply {
        Reply {
            status: 200,
            location: None,
            content_type: "text/plain; version=0.0.4",
            body: body.into(),
        }
    }

    /// `307 Temporary Redirect` to `location` (a 307 keeps the method and the body).
    pub fn redirect(location: impl Into<String>) -> Reply {
        Reply {
            status: 307,
            location: Some(location.into()),
            content_type: "text/plain",
            body: String::new(),
        }
    }
}

type Answer = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

/// Reads at most this much of a request body; a larger one is cut (and still recorded).
const MAX_BODY: usize = 4 << 20;
const MAX_HEADERS: usize = 100;

pub struct Stub {
    port: u16,
    requests: Arc<Mutex<Vec<Recorded>>>,
    answer: Arc<RwLock<Answer>>,
    stop: Arc<AtomicBool>,
}

impl Stub {
    /// A stub answering `200 OK` with an empty body.
    pub fn new() -> Stub {
        Stub::answering(|_| Reply::ok(""))
    }

    pub fn answering(answer: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<RwLock<Answer>> = Arc::new(RwLock::new(Arc::new(answer)));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, replies, stopped) = (requests.clone(), answer.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (log, replies) = (log.clone(), replies.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
                    let _ = serve_one(stream, &log, &replies);
                });
            }
        });
        Stub {
            port,
            requests,
            answer,
            stop,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Changes how later requests are answered.
    pub fn answer_with(&self, answer: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) {
        *self.answer.write().unwrap() = Arc::new(answer);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// When the latest request arrived.
    pub fn last_at(&self) -> Option<Instant> {
        self.requests.lock().unwrap().last().map(|r| r.at)
    }
}

impl Default for Stub {
    fn default() -> Stub {
        Stub::new()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees `stop`.
        if let Ok(s) =
            TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_secs(1))
        {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn serve_one(
    stream: TcpStream,
    log: &Mutex<Vec<Recorded>>,
    answer: &RwLock<Answer>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(()); // a connection that only woke the accept loop
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut length = 0;
    for _ in 0..MAX_HEADERS {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length.min(MAX_BODY)];
    reader.read_exact(&mut body)?;
    let recorded = Recorded {
        method,
        path,
        body,
        at: Instant::now(),
    };
    log.lock().unwrap().push(recorded.clone());
    let answer = answer.read().unwrap().clone();
    let reply = answer(&recorded);
    let reason = match reply.status {
        200 => "OK",
        307 => "Temporary Redirect",
        _ => "Status",
    };
    let location = reply
        .location
        .as_ref()
        .map(|l| format!("Location: {l}\r\n"))
        .unwrap_or_default();
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        reply.status,
        reply.content_type,
        reply.body.len(),
        reply.body
    )?;
    stream.flush()
}
