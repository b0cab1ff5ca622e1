//! Email templates (text and HTML). Links point at the front end (FRONTEND_URL), which calls the API.

use serde::{Deserialize, Serialize};

/// A rendered email, as stored in a job's payload until sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// What makes this email once-only (an order's receipt: `order:<id>:paid`): a keyed email is sent at most
    /// once however often its job runs or is queued, and always with the same Message-ID, so that even a
    /// send repeated after a crash between sending and recording it shows as one message in the inbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub once_key: Option<String>,
}

impl Email {
    /// This email, sent at most once under `key`.
    pub fn once(mut self, key: String) -> Email {
        self.once_key = Some(key);
        self
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A plain page: a paragraph, an optional button with its link, and a closing line.
fn render(to: &str, subject: &str, lead: &str, action: Option<(&str, &str)>, closing: &str) -> Email {
    let mut text = format!("{lead}\n\n");
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif; line-height: 1.5\">\n<p>{}</p>\n",
        escape(lead)
    );
    if let Some((label, link)) = action {
        text.push_str(&format!("{label}: {link}\n\n"));
        html.push_str(&format!(
            "<p><a href=\"{0}\" style=\"background:#b4235b;color:#fff;padding:10px 16px;border-radius:6px;\
             text-decoration:none\">{1}</a></p>\n<p>Or open this link: {0}</p>\n",
            escape(link),
            escape(label)
        ));
    }
    text.push_str(closing);
    text.push_str("\n\n— Cinema\n");
    html.push_str(&format!(
        "<p>{}</p>\n<p>— Cinema</p>\n</body></html>\n",
        escape(closing)
    ));
    Email {
        to: to.to_string(),
        subject: subject.to_string(),
        text,
        html,
        once_key: None,
    }
}

/// The link of one registration: following it activates the account with the password chosen when signing up.
pub fn activation(to: &str, frontend_url: &str, token: &str) -> Email {
    let link = format!("{frontend_url}/activate?token={token}");
    render(
        to,
        "Activate your Cinema account",
        "Welcome to Cinema! Confirm your email address to activate your account, with the password you chose \
         when you signed up.",
        Some(("Activate my account", &link)),
        "The link works once, for 24 hours. If you did not sign up, ignore this email: without this link nobody \
         can use an account with your address.",
    )
}

/// A new activation link asked for without a password: whoever follows it chooses the password, so that a
/// stranger who signed up with this address first never gets the account.
pub fn activation_choose_password(to: &str, frontend_url: &str, token: &str) -> Email {
    let link = format!("{frontend_url}/activate?token={token}&choosePassword=true");
    render(
        to,
        "Activate your Cinema account",
        "Someone (we hope you) asked for a new link to activate the Cinema account of this address. Follow it \
         and choose your password to activate the account.",
        Some(("Choose my password", &link)),
        "The link works once, for 24 hours. If you did not ask for it, ignore this email.",
    )
}

/// Someone tried to register an address that already has an account: its owner hears of it, the person who
/// tried learns nothing.
pub fn account_exists(to: &str, frontend_url: &str) -> Email {
    let link = format!("{frontend_url}/forgot-password");
    render(
        to,
        "You already have a Cinema account",
        "Someone (we hope you) tried to create a Cinema account with this address, which already has one. \
         Nothing was changed. Sign in with your password, or choose a new one if you forgot it.",
        Some(("Reset my password", &link)),
        "If it was not you, ignore this email: your account is as it was.",
    )
}

pub fn password_reset(to: &str, frontend_url: &str, token: &str) -> Email {
    let link = format!("{frontend_url}/reset-password?token={token}");
    render(
        to,
        "Reset your Cinema password",
        "Someone (we hope you) asked to reset the password of your Cinema account.",
        Some(("Choose a new password", &link)),
        "The link works once, for 1 hour. If you did not ask for it, ignore this email: your password stays.",
    )
}

pub fn password_changed(to: &str) -> Email {
    render(
        to,
        "Your Cinema password was changed",
        "The password of your Cinema account was just changed, and your other devices were signed out.",
        None,
        "If this was not you, reset your password at once and contact support.",
    )
}

/// Someone replied to or liked the recipient's comment (B11). Sent for the first unread notification only,
/// so a busy thread sends one email until its owner has looked.
pub fn comment_activity(to: &str, frontend_url: &str, what: &str) -> Email {
    let link = format!("{frontend_url}/notifications");
    render(
        to,
        "New activity on your Cinema comments",
        what,
        Some(("See your notifications", &link)),
        "You get one such email until you have read your notifications.",
    )
}

/// A payment was confirmed: the movies are the recipient's (E3).
pub fn order_paid(to: &str, frontend_url: &str, amount: &str) -> Email {
    let link = format!("{frontend_url}/orders");
    render(
        to,
        "Your Cinema order is paid",
        &format!("We received your payment of {amount}. Your movies are ready to watch."),
        Some(("See your orders", &link)),
        "Keep this email as your receipt.",
    )
}

/// A refund was confirmed: the money goes back and the movies are no longer the recipient's (E5).
pub fn order_refunded(to: &str, frontend_url: &str, amount: &str) -> Email {
    let link = format!("{frontend_url}/orders");
    render(
        to,
        "Your Cinema order was refunded",
        &format!("{amount} is on its way back to you. The movies of this order are no longer in your library."),
        Some(("See your orders", &link)),
        "Your bank may take a few days to show the refund.",
    )
}

/// Money that arrived for an order that no longer waited for it (canceled, or paid by another checkout) went
/// back by itself (issue 22).
pub fn payment_returned(to: &str, frontend_url: &str, amount: &str) -> Email {
    let link = format!("{frontend_url}/orders");
    render(
        to,
        "Your Cinema payment was returned",
        &format!(
            "{amount} reached us for an order that was no longer waiting for it (it was canceled, or paid \
             already), so we sent it back. Nothing was bought with it."
        ),
        Some(("See your orders", &link)),
        "Your bank may take a few days to show the refund.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_use_the_front_end_and_html_is_escaped() {
        let email = activation("a@example.com", "https://app.example.com", "abc123");
        assert!(email.text.contains("https://app.example.com/activate?token=abc123"));
        assert!(
            email
                .html
                .contains("href=\"https://app.example.com/activate?token=abc123\"")
        );
        assert_eq!(
            escape("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }
}
