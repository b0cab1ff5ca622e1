//! Emails: rendered from templates, queued as jobs in the caller's transaction, sent by the worker.

pub mod deliveries;
pub mod mailer;
pub mod templates;

pub use mailer::Mailer;
pub use templates::Email;
