//! Webhook delivery across a crash (issue #17): the `logiflow-server` process killed with
//! SIGKILL while deliveries are in flight to a slow receiver, then started again. Every
//! event arrives at least once (a delivery whose request was cut is sent again, with the
//! same `webhook-id`), and every delivery ends delivered.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::faults::ServerProcess;
use crate::harness::*;

/// How long the receiver takes to answer: long enough that a kill finds requests in
/// flight.
const ANSWER_AFTER: Duration = Duration::from_millis(150);
const EVENTS: usize = 300;

/// A receiver on loopback: HTTP/1.1 by hand (one thread per connection, `connection:
/// close`), counting the requests of each `webhook-id`, answering 200 after
/// [`ANSWER_AFTER`].
struct Receiver {
    url: String,
    seen: Arc<Mutex<HashMap<String, usize>>>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let counts = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counts = counts.clone();
                std::thread::spawn(move || {
                    let _ = answer(stream, &counts);
                });
            }
        });
        Self { url, seen }
    }

    /// The ids that arrived at least once, and the requests in all.
    fn arrived(&self) -> (usize, usize) {
        let seen = self.seen.lock().unwrap();
        (seen.len(), seen.values().sum())
    }
}

fn answer(stream: TcpStream, counts: &Mutex<HashMap<String, usize>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut id = None;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "webhook-id" => id = Some(value.trim().to_owned()),
                "content-length" => length = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    if let Some(id) = id {
        *counts.lock().unwrap().entry(id).or_default() += 1;
    }
    std::thread::sleep(ANSWER_AFTER);
    let mut stream = stream;
    stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
}

/// Deliveries of the test's database by state.
fn states(server: &Server) -> HashMap<String, i64> {
    server.block_on(async {
        sqlx::query_as::<_, (String, i64)>(
            "select state, count(*) from webhook_delivery group by state",
        )
        .fetch_all(&server.owner)
        .await
        .unwrap()
        .into_iter()
        .collect()
    })
}

#[test]
fn the_server_killed_mid_delivery_and_restarted_delivers_every_event() {
    // The in-process server only answers the API (its worker off); the worker runs in
    // the `logiflow-server` process that is killed.
    let server = Server::start_with("hook-kill", |c| {
        c.webhook_worker_enabled = false;
        c.webhook_allow_private_addresses = true;
        c.webhook_allow_http = true;
    });
    let receiver = Receiver::start();
    server.create(
        "/v1/webhook-endpoints",
        serde_json::json!({"url": receiver.url, "event_types": ["movement.recorded"]}),
    );
    let ids = server.block_on(logiflow_testkit::outbox_events(
        &server.owner,
        server.tenant,
        EVENTS,
    ));

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = [
        ("LOGIFLOW_WEBHOOK_WORKER_INTERVAL_MS", "50"),
        ("LOGIFLOW_WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "true"),
        ("LOGIFLOW_WEBHOOK_ALLOW_HTTP", "true"),
    ];
    let process = ServerProcess::start_with(&server, port, &env);
    // Killed once a few batches arrived: requests of the next batch are in flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.arrived().0 < 70 {
        assert!(Instant::now() < deadline, "no delivery within 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    process.kill();
    let at_kill = states(&server);
    let delivered_at_kill = at_kill.get("delivered").copied().unwrap_or(0);
    assert!(
        delivered_at_kill < EVENTS as i64,
        "the kill came after every delivery: {at_kill:?}"
    );
    // A request the receiver got whose answer the dead worker never recorded: sent
    // again after the restart.
    let (arrived_at_kill, _) = receiver.arrived();
    assert!(
        arrived_at_kill as i64 > delivered_at_kill,
        "no request was in flight at the kill ({arrived_at_kill} arrived, {at_kill:?})"
    );

    let _again = ServerProcess::start_with(&server, port, &env);
    let deadline = Instant::now() + Duration::from_secs(60);
    while states(&server).get("delivered").copied().unwrap_or(0) < EVENTS as i64 {
        assert!(
            Instant::now() < deadline,
            "not every delivery was delivered within 60 s: {:?}",
            states(&server)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let seen = receiver.seen.lock().unwrap().clone();
    let missing: Vec<&Uuid> = ids
        .iter()
        .filter(|id| !seen.contains_key(&id.to_string()))
        .collect();
    assert!(missing.is_empty(), "{} events lost", missing.len());
    assert_eq!(seen.len(), EVENTS, "only the test's events arrived");
    // At least once: the requests in flight at the kill arrived twice, with their id.
    let twice = seen.values().filter(|n| **n > 1).count();
    assert!(twice >= 1, "no event was sent again after the kill");
    assert_eq!(states(&server).len(), 1, "{:?}", states(&server));
}
