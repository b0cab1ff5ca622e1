//! The `cinema` command line: export-schema, create-admin (A10), seed --synthetic (G10), and refusals.

use std::io::Write;
use std::process::{Command, Stdio};

fn cinema(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cinema"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BCRYPT_COST", "4")
        .env("RUST_LOG", "warn");
    command
}

#[test]
fn export_schema_prints_the_committed_sdl() {
    let dir = tempfile::tempdir().unwrap();
    let output = cinema(dir.path()).arg("export-schema").output().unwrap();
    assert!(output.status.success());
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), committed);
    assert!(!dir.path().join("var").exists(), "printing the schema writes nothing");
    let output = cinema(dir.path())
        .arg("export-openapi")
        .env("APP_ENV", "production")
        .output()
        .unwrap();
    assert!(output.status.success(), "needs no configuration");
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(document["paths"]["/api/v1/auth/login"]["post"].is_object());
}

#[test]
fn create_admin_reads_the_password_from_stdin_and_refuses_weak_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = cinema(dir.path())
        .args(["create-admin", "--email", "Root@Example.com"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"Adm1n!secret\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("created ADMIN root@example.com"));
    assert!(
        dir.path().join("var/cinema.db").exists(),
        "the embedded default database under var/"
    );

    // Again with the environment variable: the existing account is promoted, not duplicated.
    let output = cinema(dir.path())
        .args(["create-admin", "--email", "root@example.com"])
        .env("CINEMA_ADMIN_PASSWORD", "An0ther!secret")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("already existed"));

    let output = cinema(dir.path())
        .args(["create-admin", "--email", "weak@example.com"])
        .env("CINEMA_ADMIN_PASSWORD", "password")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("BAD_USER_INPUT"));
}

#[test]
fn seed_synthetic_adds_movies_and_demo_only_fills_an_empty_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let output = cinema(dir.path())
        .args(["seed", "--synthetic", "1200"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("added 1200 synthetic movies"));
    let output = cinema(dir.path()).args(["seed", "--demo"]).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("not empty"));
    let output = cinema(dir.path())
        .args(["seed", "--synthetic", "300"])
        .output()
        .unwrap();
    assert!(output.status.success(), "numbering continues, so names never collide");
}

#[test]
fn unsafe_production_settings_stop_the_server_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let output = cinema(dir.path())
        .arg("serve")
        .env("APP_ENV", "production")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("JWT_SECRET"));
}

/// Issue 23: `cinema health` (the image's HEALTHCHECK) exits 0 when the server on BIND_ADDR is ready, 1 when
/// nothing answers there, and 2 for a BIND_ADDR that is no address; it reads no other setting and writes
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_asks_the_server_on_bind_addr() {
    let app = crate::common::TestApp::start_with(cinema::db::Backend::Sqlite, &[]).await;
    let address = app.base.trim_start_matches("http://").to_string();
    let probe = |bind: String| {
        tokio::task::spawn_blocking(move || {
            let dir = tempfile::tempdir().unwrap();
            let output = cinema(dir.path())
                .arg("health")
                .env("BIND_ADDR", bind)
                .env("APP_ENV", "production")
                .output()
                .unwrap();
            assert!(!dir.path().join("var").exists(), "a probe writes nothing");
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stdout).to_string(),
            )
        })
    };
    let (code, said) = probe(address.clone()).await.unwrap();
    assert_eq!(code, Some(0), "{said}");
    assert!(said.starts_with("ready: "), "{said}");
    // Bound to every address: asked on loopback.
    let port = address.rsplit_once(':').unwrap().1;
    let (code, _) = probe(format!("0.0.0.0:{port}")).await.unwrap();
    assert_eq!(code, Some(0));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, said) = probe(closed.to_string()).await.unwrap();
    assert_eq!(code, Some(1), "{said}");
    assert!(said.starts_with("not ready"), "{said}");
    let (code, _) = probe("nowhere".into()).await.unwrap();
    assert_eq!(code, Some(2));
}
