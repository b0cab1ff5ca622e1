//! F1–F3: emails over real SMTP, no email lost in an SMTP outage, no email sent twice by two workers, failed
//! jobs kept, periodic cleanup once per period (A4).

use std::collections::BTreeSet;
use std::time::Duration;

use cinema::accounts::cleanup::{Cleanup, DeleteExpired};
use cinema::accounts::links::MailBudget;
use cinema::app::job_handlers;
use cinema::db::Backend;
use cinema::db::schema::{jobs, one_time_tokens, users};
use cinema::jobs::{JobKind, JobRow, JobStatus, Worker, queue};
use cinema::notify::{Email, Mailer};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::common::smtp::SmtpSink;
use crate::common::{PASSWORD, TestApp, decode_mail, token_in};

backend_tests!(
    activation_email_travels_over_smtp,
    an_smtp_outage_loses_no_email,
    two_workers_never_send_the_same_email_twice,
    a_once_only_email_is_sent_once_however_often_it_runs,
    jobs_out_of_attempts_are_kept_as_failed,
    cleanup_deletes_only_what_expired_once_per_period,
    the_running_worker_schedules_and_runs_the_hourly_cleanup,
    links_rest_nowhere_but_in_the_email,
);

/// A worker of `app`'s jobs with every handler, polling often, as a test drives it.
fn worker_of(app: &TestApp) -> Worker {
    let mailer = Mailer::from_settings(&app.settings().mail).unwrap();
    let db = app.db().clone();
    Worker::new(
        db.clone(),
        job_handlers(
            &db,
            &mailer,
            "http://front.example",
            MailBudget::per_hour(100),
            &app.state.shop,
            &app.state.payments,
        ),
        Duration::from_millis(10),
        Duration::from_millis(100),
    )
}

/// The newest jobs of one status, or of all.
async fn jobs_of(app: &TestApp, status: Option<JobStatus>) -> Vec<JobRow> {
    app.state
        .jobs
        .list(status, 100)
        .await
        .map_err(|e| e.public_message())
        .unwrap()
}

async fn activation_email_travels_over_smtp(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = TestApp::start_with(
        backend,
        &[("SMTP_URL", &sink.url()), ("MAIL_FROM", "Cinema <hello@cinema.test>")],
    )
    .await;
    let (status, _) = app
        .post_json(
            "/api/v1/auth/register",
            json!({ "email": "smtp@example.com", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(status, 201);
    let received = sink.wait_for(1, |_| true).await;
    assert_eq!(received[0].to, ["smtp@example.com"]);
    assert_eq!(received[0].from, "hello@cinema.test");
    assert!(received[0].data.contains("Subject: Activate your Cinema account"));
    let (status, _) = app
        .post_json(
            "/api/v1/auth/activate",
            json!({ "token": token_in(&received[0].data) }),
            None,
        )
        .await;
    assert_eq!(status, 204, "the token from the SMTP message activates the account");
    app.login("smtp@example.com", PASSWORD).await;
}

async fn an_smtp_outage_loses_no_email(backend: Backend) {
    let mut sink = SmtpSink::start().await;
    sink.stop();
    let app = TestApp::start_with(backend, &[("SMTP_URL", &sink.url())]).await;
    let (status, _) = app
        .post_json(
            "/api/v1/auth/register",
            json!({ "email": "outage@example.com", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(status, 201, "registration does not wait for the mail server");
    // The worker tries, fails and keeps the job for a retry.
    let mut failed_attempt = None;
    for _ in 0..100 {
        let queued = jobs_of(&app, None).await;
        if let Some(job) = queued.into_iter().find(|j| j.last_error.is_some()) {
            failed_attempt = Some(job);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let job = failed_attempt.expect("a failed delivery attempt is recorded");
    assert_ne!(job.status, JobStatus::Failed, "still to be retried");
    assert!(sink.received().is_empty());

    sink.restart().await;
    let received = sink.wait_for(1, |_| true).await;
    assert_eq!(received[0].to, ["outage@example.com"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let done = jobs_of(&app, Some(JobStatus::Succeeded)).await;
    assert!(
        done.iter()
            .any(|j| j.id == job.id && j.attempts >= 2 && j.payload == "{}"),
        "{done:?}"
    );
}

async fn two_workers_never_send_the_same_email_twice(backend: Backend) {
    const EMAILS: usize = 40;
    let sink = SmtpSink::start().await;
    let app = TestApp::start_with(backend, &[("SMTP_URL", &sink.url()), ("RUN_WORKER", "off")]).await;
    let mut conn = app.conn().await;
    for i in 0..EMAILS {
        let email = Email {
            to: format!("reader{i}@example.com"),
            subject: format!("Message {i}"),
            text: "hello".into(),
            html: "<p>hello</p>".into(),
            once_key: None,
        };
        cinema::jobs::enqueue(&mut conn, &email).await.unwrap();
    }
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let worker = worker_of(&app);
            tokio::spawn(async move {
                let mut ran = 0;
                for _ in 0..200 {
                    let batch = worker.run_due().await.map_err(|e| e.public_message()).unwrap();
                    ran += batch;
                    if batch == 0 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                ran
            })
        })
        .collect();
    let mut per_worker = Vec::new();
    for worker in workers {
        per_worker.push(worker.await.unwrap());
    }
    let received = sink.wait_for(EMAILS, |_| true).await;
    let recipients: BTreeSet<String> = received.iter().flat_map(|m| m.to.clone()).collect();
    assert_eq!(
        received.len(),
        EMAILS,
        "each email sent once (workers ran {per_worker:?})"
    );
    assert_eq!(recipients.len(), EMAILS);
    assert_eq!(per_worker.iter().sum::<usize>(), EMAILS, "no job ran twice");
}

/// F2 (issue 22): a receipt whose job runs again (a crash after sending, before the job was marked done) or
/// that was queued twice is sent once; its Message-ID is the same on every send, so that even a send repeated
/// in that window is one message to the recipient's mail program.
async fn a_once_only_email_is_sent_once_however_often_it_runs(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = TestApp::start_with(backend, &[("SMTP_URL", &sink.url()), ("RUN_WORKER", "off")]).await;
    let receipt = |n: usize| Email {
        to: "payer@example.com".into(),
        subject: format!("Receipt {n}"),
        text: "paid".into(),
        html: "<p>paid</p>".into(),
        once_key: None,
    };
    let mut conn = app.conn().await;
    for n in 0..3 {
        let email = receipt(n).once("order:42:paid".into());
        cinema::jobs::enqueue(&mut conn, &email).await.unwrap();
    }
    cinema::jobs::enqueue(&mut conn, &receipt(9).once("order:43:paid".into()))
        .await
        .unwrap();
    cinema::jobs::enqueue(&mut conn, &receipt(10)).await.unwrap();
    let worker = worker_of(&app);
    let ran = worker.run_due().await.map_err(|e| e.public_message()).unwrap();
    assert_eq!(ran, 5, "every job ran and completed");
    let received = sink.wait_for(3, |_| true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received_now = sink.wait_for(3, |_| true).await;
    assert_eq!(received_now.len(), 3, "one per key and the unkeyed one: {received:?}");
    let subjects: BTreeSet<String> = received_now
        .iter()
        .filter_map(|m| m.data.lines().find(|l| l.starts_with("Subject: ")).map(str::to_string))
        .collect();
    assert_eq!(
        subjects,
        BTreeSet::from([
            "Subject: Receipt 0".to_string(),
            "Subject: Receipt 9".to_string(),
            "Subject: Receipt 10".to_string()
        ])
    );
    // The same key gives the same Message-ID whoever sends it, and another key another one.
    let message_id = |data: &str| {
        data.lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            .map(str::to_string)
            .unwrap()
    };
    let first = received_now
        .iter()
        .find(|m| m.data.contains("Subject: Receipt 0"))
        .unwrap();
    let other = received_now
        .iter()
        .find(|m| m.data.contains("Subject: Receipt 9"))
        .unwrap();
    assert_ne!(message_id(&first.data), message_id(&other.data));
    let digest = cinema::util::sha256_hex("order:42:paid");
    assert!(
        message_id(&first.data).contains(&digest[..32]),
        "{}",
        message_id(&first.data)
    );
}

/// A kind no worker has a handler for.
#[derive(Serialize, Deserialize)]
struct NoSuchKind {}

impl JobKind for NoSuchKind {
    const KIND: &'static str = "no.such.kind";
    const MAX_ATTEMPTS: i32 = 2;
}

async fn jobs_out_of_attempts_are_kept_as_failed(backend: Backend) {
    let app = TestApp::start_with(backend, &[("RUN_WORKER", "off")]).await;
    let db = app.db().clone();
    cinema::jobs::enqueue(&mut app.conn().await, &NoSuchKind {})
        .await
        .unwrap();
    let worker = Worker::new(
        db.clone(),
        job_handlers(
            &db,
            &app.state.mailer,
            "http://front.example",
            MailBudget::per_hour(100),
            &app.state.shop,
            &app.state.payments,
        ),
        Duration::from_millis(10),
        Duration::from_millis(50),
    );
    assert_eq!(worker.run_due().await.map_err(|e| e.public_message()).unwrap(), 1);
    let after_one = jobs_of(&app, None).await;
    assert_eq!(
        (after_one[0].status, after_one[0].attempts),
        (JobStatus::Queued, 1),
        "retried later"
    );
    assert_eq!(
        worker.run_due().await.map_err(|e| e.public_message()).unwrap(),
        0,
        "not before its backoff"
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(worker.run_due().await.map_err(|e| e.public_message()).unwrap(), 1);
    let failed = jobs_of(&app, Some(JobStatus::Failed)).await;
    assert_eq!(failed.len(), 1, "kept, visible");
    assert_eq!(failed[0].attempts, 2);
    assert_eq!(failed[0].payload, "{}", "a job that failed for good keeps no payload");
    assert!(failed[0].last_error.as_deref().unwrap().contains("unknown job kind"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        worker.run_due().await.map_err(|e| e.public_message()).unwrap(),
        0,
        "never run again"
    );
}

async fn cleanup_deletes_only_what_expired_once_per_period(backend: Backend) {
    let app = TestApp::start_with(backend, &[("RUN_WORKER", "off")]).await;
    let db = app.db().clone();
    for email in ["old@example.com", "new@example.com"] {
        app.post_json(
            "/api/v1/auth/register",
            json!({ "email": email, "password": PASSWORD }),
            None,
        )
        .await;
    }
    let tokens = app.signed_in_user_without_worker("kept@example.com").await;
    // Send the activation links (their tokens are issued as they go out).
    let worker = Worker::new(
        db.clone(),
        job_handlers(
            &db,
            &app.state.mailer,
            "http://front.example",
            MailBudget::per_hour(100),
            &app.state.shop,
            &app.state.payments,
        ),
        Duration::from_millis(10),
        Duration::from_millis(50),
    );
    worker.run_due().await.map_err(|e| e.public_message()).unwrap();
    let past = cinema::db::now() - chrono::Duration::days(2);
    let mut conn = app.conn().await;
    let old_user = users::table
        .filter(users::email.eq("old@example.com"))
        .select(users::id);
    let expired = cinema::per_backend!(&mut conn, |c| {
        diesel::update(one_time_tokens::table.filter(one_time_tokens::user_id.eq_any(old_user)))
            .set(one_time_tokens::expires_at.eq(past))
            .execute(c)
            .await
    });
    assert_eq!(expired, Ok(1));
    let removed = Cleanup::new(db.clone())
        .run_now()
        .await
        .map_err(|e| e.public_message())
        .unwrap();
    assert_eq!(removed, 1, "only the expired token");
    let left = cinema::per_backend!(&mut conn, |c| one_time_tokens::table.count().get_result::<i64>(c).await);
    assert_eq!(
        left,
        Ok(2),
        "the live activation tokens stay: new@'s, and kept@'s (verified straight in the database)"
    );
    // The live session still works.
    let (status, _) = app
        .graphql_as(tokens["accessToken"].as_str().unwrap(), "{ me { email } }", json!({}))
        .await;
    assert_eq!(status, 200);

    // Two instances scheduling the same period enqueue one job.
    let key = "cleanup.expired:2026-01-01T00";
    let first = queue::enqueue_once(&mut conn, &DeleteExpired::default(), key).await;
    let second = queue::enqueue_once(&mut conn, &DeleteExpired::default(), key).await;
    assert_eq!((first, second), (Ok(true), Ok(false)));
    let count = cinema::per_backend!(&mut conn, |c| {
        jobs::table
            .filter(jobs::kind.eq(DeleteExpired::KIND))
            .count()
            .get_result::<i64>(c)
            .await
    });
    assert_eq!(count, Ok(1));
}

async fn the_running_worker_schedules_and_runs_the_hourly_cleanup(backend: Backend) {
    // The app's own worker schedules this hour's cleanup as soon as it starts, then runs it.
    let app = TestApp::start(backend).await;
    let db = app.db().clone();
    let hour = cinema::db::now().format("%Y-%m-%dT%H").to_string();
    let mut done = Vec::new();
    for _ in 0..100 {
        done = jobs_of(&app, Some(JobStatus::Succeeded)).await;
        if done.iter().any(|j| j.kind == "cleanup.expired") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cleanups: Vec<_> = done.iter().filter(|j| j.kind == "cleanup.expired").collect();
    assert_eq!(cleanups.len(), 1, "{done:?}");
    assert_eq!(
        cleanups[0].dedupe_key.as_deref(),
        Some(format!("cleanup.expired:{hour}").as_str())
    );
    // A second worker on the same database does not schedule the same hour again.
    let second = Worker::new(
        db.clone(),
        job_handlers(
            &db,
            &app.state.mailer,
            "http://front.example",
            MailBudget::per_hour(100),
            &app.state.shop,
            &app.state.payments,
        ),
        Duration::from_millis(10),
        Duration::from_millis(50),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(second.run(stopped));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(true).unwrap();
    running.await.unwrap();
    let all = jobs_of(&app, None).await;
    assert_eq!(
        all.iter().filter(|j| j.kind == "cleanup.expired").count(),
        1,
        "once per period"
    );
}

/// H7: an activation or reset link is issued when its email goes out, so the jobs table never holds one —
/// not while the email waits, and not after. A retry would issue a fresh link (the old one dies).
async fn links_rest_nowhere_but_in_the_email(backend: Backend) {
    let app = TestApp::start_with(backend, &[("RUN_WORKER", "off")]).await;
    app.post_json(
        "/api/v1/auth/register",
        json!({ "email": "link@example.com", "password": PASSWORD }),
        None,
    )
    .await;
    app.post_json(
        "/api/v1/auth/activation/resend",
        json!({ "email": "link@example.com" }),
        None,
    )
    .await;
    let queued = jobs_of(&app, Some(JobStatus::Queued)).await;
    assert_eq!(queued.len(), 2, "{queued:?}");
    for job in &queued {
        assert_eq!(job.kind, "email.link");
        assert!(!job.payload.contains("token"), "{}", job.payload);
        assert!(
            !job.payload
                .as_bytes()
                .windows(64)
                .any(|w| w.iter().all(u8::is_ascii_hexdigit)),
            "no token in {}",
            job.payload
        );
    }
    let db = app.db().clone();
    let worker = Worker::new(
        db.clone(),
        job_handlers(
            &db,
            &app.state.mailer,
            &app.settings().http.frontend_url,
            MailBudget::per_hour(100),
            &app.state.shop,
            &app.state.payments,
        ),
        Duration::from_millis(10),
        Duration::from_millis(50),
    );
    assert_eq!(worker.run_due().await.map_err(|e| e.public_message()).unwrap(), 2);
    let mails = app.wait_for_mail("link@example.com", "Activate", 2).await;
    // Two emails, two links (the registration's and the resent one), each issued as it went out.
    let links = [token_in(&mails[0]), token_in(&mails[1])];
    assert_ne!(links[0], links[1]);
    let registration = mails
        .iter()
        .position(|mail| !decode_mail(mail).contains("choosePassword"))
        .unwrap();
    let (status, _) = app
        .post_json("/api/v1/auth/activate", json!({ "token": links[registration] }), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .post_json(
            "/api/v1/auth/activate",
            json!({ "token": links[1 - registration], "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(status, 400, "activation voided the other link");
    for job in jobs_of(&app, None).await {
        assert!(links.iter().all(|link| !job.payload.contains(link.as_str())), "{job:?}");
    }
}
