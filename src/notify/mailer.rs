//! Sends emails over SMTP with lettre, or writes them as .eml files to the outbox folder (the embedded default,
//! which a person can open with any mail program).

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::MailSettings;
use crate::db::{Db, now};
use crate::jobs::{JobHandler, JobKind};
use crate::notify::{Email, deliveries};

#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Outbox {
        transport: AsyncFileTransport<Tokio1Executor>,
        from: Mailbox,
        dir: std::path::PathBuf,
    },
}

impl Mailer {
    pub fn from_settings(settings: &MailSettings) -> anyhow::Result<Mailer> {
        let from: Mailbox = settings.from.parse()?;
        match &settings.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
                    .timeout(Some(Duration::from_secs(15)))
                    .build();
                Ok(Mailer::Smtp { transport, from })
            }
            None => {
                std::fs::create_dir_all(&settings.outbox_dir)?;
                Ok(Mailer::Outbox {
                    transport: AsyncFileTransport::<Tokio1Executor>::new(&settings.outbox_dir),
                    from,
                    dir: settings.outbox_dir.clone(),
                })
            }
        }
    }

    fn from(&self) -> &Mailbox {
        match self {
            Mailer::Smtp { from, .. } | Mailer::Outbox { from, .. } => from,
        }
    }

    /// Sends one email; an error means "try again later" to the job queue.
    pub async fn send(&self, email: &Email) -> anyhow::Result<()> {
        let from = self.from();
        // A once-only email always has the same Message-ID, so that a send repeated after a crash between
        // sending and recording it is one message to the recipient's mail program.
        let message_id = email.once_key.as_ref().map(|key| {
            let digest = crate::util::sha256_hex(key);
            format!("<{}@{}>", &digest[..32], from.email.domain())
        });
        let message = Message::builder()
            .from(from.clone())
            .message_id(message_id)
            .to(email.to.parse()?)
            .subject(&email.subject)
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))?;
        match self {
            Mailer::Smtp { transport, .. } => {
                transport.send(message).await?;
            }
            Mailer::Outbox { transport, dir, .. } => {
                let id = transport.send(message).await?;
                tracing::info!(to = %email.to, file = %dir.join(format!("{id}.eml")).display(), "email written to the outbox");
            }
        }
        Ok(())
    }
}

/// Emails are queued as jobs in the transaction of the change that causes them (F2).
impl JobKind for Email {
    const KIND: &'static str = "email.send";
}

/// The worker's handler of queued emails: sends each through the mailer (an error leaves the job for a later
/// retry), a once-only email at most once.
#[derive(Clone)]
pub struct EmailJobs {
    mailer: Mailer,
    db: Db,
}

impl EmailJobs {
    pub fn new(mailer: Mailer, db: Db) -> EmailJobs {
        EmailJobs { mailer, db }
    }
}

impl JobHandler<Email> for EmailJobs {
    async fn run(&self, email: Email) -> anyhow::Result<()> {
        let Some(key) = &email.once_key else {
            return self.mailer.send(&email).await;
        };
        let mut conn = self.db.conn().await?;
        if deliveries::was_sent(&mut conn, key).await? {
            tracing::info!(key, "a once-only email was sent already; not again");
            return Ok(());
        }
        self.mailer.send(&email).await?;
        deliveries::record_sent(&mut conn, key, now()).await?;
        Ok(())
    }
}
