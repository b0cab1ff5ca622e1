//! Issue 23: `cinema worker`, the job worker as a process of its own beside API instances started with
//! RUN_WORKER=off — it sends the mail the API queues, returns money through the mock (whose signed events it
//! delivers to the API at MOCK_WEBHOOK_URL), answers the same probe as the API, and stops cleanly on SIGTERM.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cinema::db::{Backend, DatabaseUrl};

use crate::common::TestApp;
use crate::payments::{buyer_in, money_lands_on_a_canceled_order, order_status, refunded_by_the_worker};

backend_tests!(
    a_worker_process_runs_the_jobs_an_api_without_one_queues,
    a_worker_in_process_answers_its_probes_and_stops_when_told,
);

/// The worker process, killed if the test ends without stopping it.
struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_address() -> String {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().to_string()
}

fn cinema_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cinema"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    command
}

/// `cinema health` against `bind`: its exit code.
async fn probe(bind: String) -> Option<i32> {
    tokio::task::spawn_blocking(move || {
        cinema_command()
            .arg("health")
            .env("BIND_ADDR", bind)
            .output()
            .unwrap()
            .status
            .code()
    })
    .await
    .unwrap()
}

async fn a_worker_process_runs_the_jobs_an_api_without_one_queues(backend: Backend) {
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on"), ("RUN_WORKER", "off")]).await;
    let settings = app.settings().clone();
    let database_url = match &settings.database.url {
        DatabaseUrl::Postgres(url) => url.clone(),
        DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
    };
    let bind = free_address();
    // The same folder for the outbox the tests read, and the same webhook secret as the API: in a deployment
    // both come from the one env file the API and the worker share.
    let mut worker = WorkerProcess(
        cinema_command()
            .arg("worker")
            .env("VAR_DIR", &settings.var_dir)
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", &bind)
            .env("STRIPE_WEBHOOK_SECRET", &settings.payments.stripe_webhook_secret)
            .env("MOCK_WEBHOOK_URL", &app.base)
            .env("WORKER_POLL_MS", "50")
            .env("BCRYPT_COST", "4")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = std::time::Instant::now();
    while probe(bind.clone()).await != Some(0) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the worker never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The activation mail the API queued is sent by the worker (the API runs none).
    let b = buyer_in(app).await;
    // Money on a canceled order: the worker refunds it through the mock, whose signed confirmation reaches
    // the API's webhook.
    let (order, payment) = money_lands_on_a_canceled_order(&b).await;
    let returned = refunded_by_the_worker(&b.app, payment).await;
    assert_eq!(
        returned.status,
        cinema::payments::models::PaymentStatus::Refunded,
        "{returned:?}"
    );
    assert_eq!(order_status(&b, &order).await, "CANCELED");
    b.app
        .wait_for_mail(&b.email, "Your Cinema payment was returned", 1)
        .await;

    let stopped = Command::new("kill")
        .args(["-TERM", &worker.0.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = worker.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the worker did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    assert_eq!(probe(bind).await, Some(1), "nothing answers once it stopped");
}

/// The same worker run in this process (`cinema::app::work`, what `cinema worker` calls): it answers
/// `/health/live` and `/health/ready` on its listener, sends the mail an API without a worker queued, and
/// returns once told to stop.
async fn a_worker_in_process_answers_its_probes_and_stops_when_told(backend: Backend) {
    let app = TestApp::start_with(backend, &[("RUN_WORKER", "off")]).await;
    let settings = (**app.settings()).clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(cinema::app::work(settings, listener, async {
        let _ = stopped.await;
    }));
    for probe in ["/health/live", "/health/ready"] {
        let answer = app.client.get(format!("{base}{probe}")).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{probe}");
    }
    let ready: serde_json::Value = app
        .client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["migrations"], "current", "{ready}");
    app.signed_in_user("carol@example.com").await;
    stop.send(()).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), worker).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
}
