//! H3: slow or idle clients cannot hold the server's connections: a header that does not arrive in time is
//! cut off, and past MAX_CONNECTIONS new connections wait until one closes.

use std::time::{Duration, Instant};

use cinema::db::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::TestApp;

backend_tests!(
    a_client_dribbling_its_header_is_cut_off,
    connections_past_the_cap_wait_for_a_free_one
);

fn address(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (or `limit` passes); returns what came and when it ended.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&received).into(), Some(started.elapsed())),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), None),
        }
    }
}

async fn a_client_dribbling_its_header_is_cut_off(backend: Backend) {
    let app = TestApp::start_with(backend, &[("HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let mut slow = TcpStream::connect(address(&app)).await.unwrap();
    // Half a header, then nothing: the server must not wait for the rest.
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: cinema\r\n")
        .await
        .unwrap();
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    let closed = closed.expect("the server closed the connection");
    assert!(closed < Duration::from_secs(4), "closed after {closed:?}");

    // An idle keep-alive connection is closed the same way after its last answer.
    let mut idle = TcpStream::connect(address(&app)).await.unwrap();
    idle.write_all(b"GET /health/live HTTP/1.1\r\nHost: cinema\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed.is_some(), "the idle connection was closed");
}

async fn connections_past_the_cap_wait_for_a_free_one(backend: Backend) {
    let app = TestApp::start_with(backend, &[("MAX_CONNECTIONS", "2"), ("HEADER_READ_TIMEOUT_SECS", "30")]).await;
    // Two connections that send nothing take both places.
    let first = TcpStream::connect(address(&app)).await.unwrap();
    let second = TcpStream::connect(address(&app)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = tokio::spawn({
        let url = app.url("/health/live");
        async move {
            let started = Instant::now();
            let status = reqwest::get(url).await.map(|r| r.status().as_u16());
            (status, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !waiting.is_finished(),
        "a third connection is not served while two are open"
    );
    drop(first);
    let (status, _) = waiting.await.unwrap();
    assert_eq!(status.unwrap(), 200, "served once a place is free");
    drop(second);
}
