//! `cinema`: the server and its maintenance commands.

use std::io::Read;
use std::process::ExitCode;

use cinema::config::{LogFormat, Settings};
use cinema::db::{Db, PoolOptions, migrate};
use clap::{Parser, Subcommand};

/// jemalloc instead of glibc's malloc, for Rust and for the C code linked in (SQLite): a GraphQL answer is built
/// from many small allocations (values, futures, rows), and glibc's allocator took about a sixth of the
/// server's CPU time on the catalog page; jemalloc's arenas are shared by threads (a few per core), so SQLite's
/// blocking threads do not each keep a heap (benches/RESULTS.md, issue 12: at 1,000,000 movies SQLite's server
/// stayed at 84 MiB, against 129 with SQLite on glibc's malloc; mimalloc was as fast and kept it past 100 MB).
/// Built with `--features jemalloc` (the image, the benchmarks); a development build keeps the system allocator.
#[cfg(all(feature = "jemalloc", unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "cinema", version, about = "Online cinema API server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default): migrates, seeds the demo catalog into an empty development database.
    Serve,
    /// Run the job worker alone (emails, refunds, cleanups), for API instances started with RUN_WORKER=off.
    /// Answers /health/live and /health/ready on BIND_ADDR, so `cinema health` checks it too.
    Worker,
    /// Apply pending migrations and exit.
    Migrate,
    /// Load catalog data.
    Seed {
        /// The demo catalog of real movies (only into an empty catalog).
        #[arg(long, conflicts_with = "synthetic")]
        demo: bool,
        /// N generated movies, for benchmarks.
        #[arg(long, value_name = "N")]
        synthetic: Option<usize>,
    },
    /// Create an ADMIN account (or promote and activate an existing one). The password comes from
    /// CINEMA_ADMIN_PASSWORD or standard input, never from the command line.
    CreateAdmin {
        #[arg(long)]
        email: String,
    },
    /// Print the GraphQL schema (SDL), as committed in schema.graphql.
    ExportSchema,
    /// Print the REST OpenAPI document (JSON).
    ExportOpenapi,
    /// Ask the server on BIND_ADDR whether it is ready (`/health/ready`): exit 0 when it answers 200, 1
    /// otherwise. The container's HEALTHCHECK runs it, so the image needs no HTTP client of its own.
    Health,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The API's shape needs no configuration: print it without reading settings (which would create var/).
    match cli.command {
        Some(Command::ExportSchema) => {
            print!("{}", cinema::server::schema::export_sdl());
            return ExitCode::SUCCESS;
        }
        // A probe reads nothing but where the server listens: no settings, no files, no database.
        Some(Command::Health) => return health::check(),
        Some(Command::ExportOpenapi) => {
            return match cinema::server::docs::openapi().to_pretty_json() {
                Ok(json) => {
                    println!("{json}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("cinema: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("cinema: configuration refused: {error}");
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // SQLite's statements, bcrypt and file reads run on blocking threads; tokio would start up to 512,
        // each with its own allocator heap. The pool bounds SQLite's share; this bounds the rest.
        .max_blocking_threads(settings.database.pool_size + 16)
        .build()
        .expect("tokio runtime starts");
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "cinema stopped with an error");
            eprintln!("cinema: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let bind = settings.http.bind_addr;
            let state = cinema::prepare(settings).await?;
            let listener = tokio::net::TcpListener::bind(bind).await?;
            let settings = state.settings.clone();
            tracing::info!(
                address = %listener.local_addr()?,
                backend = state.db.backend().name(),
                graphiql = settings.docs.graphiql,
                "serving: {2}GraphQL at {0}/graphql{1}, REST docs at {0}/api/docs",
                settings.http.public_url,
                if settings.docs.graphiql { format!(", GraphiQL at {}/graphiql", settings.http.public_url) } else { String::new() },
                if settings.http.storefront { format!("the shop at {0}/ (staff: {0}/staff), ", settings.http.public_url) } else { String::new() },
            );
            cinema::serve(state, listener, cinema::app::shutdown_signal()).await
        }
        Command::Worker => {
            let listener = tokio::net::TcpListener::bind(settings.http.bind_addr).await?;
            cinema::app::work(settings, listener, cinema::app::shutdown_signal()).await
        }
        Command::Migrate => {
            let db = connect(&settings)?;
            let applied = migrate::run_pending(&db).await?;
            println!("applied {} migration(s) on {}", applied.len(), db.backend().name());
            Ok(())
        }
        Command::Seed { demo, synthetic } => {
            let db = connect(&settings)?;
            migrate::run_pending(&db).await?;
            if let Some(count) = synthetic {
                let started = std::time::Instant::now();
                let inserted = cinema::catalog::seed::seed_synthetic(&db, count).await?;
                println!("added {inserted} synthetic movies in {:.1?}", started.elapsed());
            } else if demo {
                let inserted = cinema::catalog::seed::seed_demo_if_empty(&db).await?;
                if inserted == 0 {
                    println!("the catalog is not empty: demo catalog not loaded");
                } else {
                    println!("added {inserted} demo movies");
                }
            } else {
                anyhow::bail!("say what to seed: --demo or --synthetic N");
            }
            Ok(())
        }
        Command::CreateAdmin { email } => {
            let password = match std::env::var("CINEMA_ADMIN_PASSWORD") {
                Ok(password) if !password.is_empty() => password,
                _ => {
                    let mut input = String::new();
                    std::io::stdin().read_to_string(&mut input)?;
                    input.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let db = connect(&settings)?;
            migrate::run_pending(&db).await?;
            let outcome =
                cinema::accounts::service::create_admin(&db, &email, &password, settings.auth.bcrypt_cost).await?;
            println!("{outcome}");
            Ok(())
        }
        // Done by `main` before settings are read; nothing is left to do here.
        Command::ExportSchema | Command::ExportOpenapi | Command::Health => Ok(()),
    }
}

/// `cinema health`: one readiness request to this container's own server.
mod health {
    use std::process::ExitCode;
    use std::time::Duration;

    /// Where the server listens, from BIND_ADDR (default `127.0.0.1:8080`); a server bound to every address
    /// (`0.0.0.0`, `::`) is asked on loopback.
    fn ready_url() -> Result<String, String> {
        let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
        let mut address: std::net::SocketAddr = bind
            .parse()
            .map_err(|_| format!("BIND_ADDR is not an address: {bind}"))?;
        if address.ip().is_unspecified() {
            address.set_ip(match address {
                std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        Ok(format!("http://{address}/health/ready"))
    }

    pub fn check() -> ExitCode {
        let url = match ready_url() {
            Ok(url) => url,
            Err(reason) => {
                eprintln!("cinema: {reason}");
                return ExitCode::from(2);
            }
        };
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("cinema: {error}");
                return ExitCode::FAILURE;
            }
        };
        let answer = runtime.block_on(async {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build()?;
            client.get(&url).send().await
        });
        match answer {
            Ok(response) if response.status().is_success() => {
                println!("ready: {url}");
                ExitCode::SUCCESS
            }
            Ok(response) => {
                println!("not ready: {url} answered {}", response.status());
                ExitCode::FAILURE
            }
            Err(error) => {
                println!("not ready: {url}: {error}");
                ExitCode::FAILURE
            }
        }
    }
}

fn connect(settings: &Settings) -> anyhow::Result<Db> {
    Db::connect(
        &settings.database.url,
        &PoolOptions {
            max_size: settings.database.pool_size,
            ..PoolOptions::default()
        },
    )
}
