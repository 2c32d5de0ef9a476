//! Notification messages: tera templates rendered into a subject, a plain
//! text and an HTML part, sent by SMTP or written as `.eml` files.

mod templates;

use std::path::{Path, PathBuf};

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub use templates::{Rendered, TemplateError, Templates};

/// Where mail goes: an SMTP server, or `.eml` files in a folder.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("CASEFLOW_SMTP_URL: {0}")]
    Url(String),
    #[error("the message cannot be built: {0}")]
    Build(String),
    #[error("sending failed: {0}")]
    Send(String),
}

/// `smtp://[user:password@]host[:port]`, plain SMTP to a relay (port 25 by
/// default). TLS is not built in: relay through a local MTA for that.
fn smtp_transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let rest = url.strip_prefix("smtp://").ok_or_else(|| {
        MailError::Url(format!(
            "`{url}`: only smtp://host:port is supported (TLS is not built in; relay through a local MTA)"
        ))
    })?;
    let rest = rest.trim_end_matches('/');
    let (credentials, address) = match rest.rsplit_once('@') {
        Some((credentials, address)) => (Some(credentials), address),
        None => (None, rest),
    };
    let (host, port) = match address.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .map_err(|_| MailError::Url(format!("`{url}`: `{port}` is not a port")))?,
        ),
        None => (address, 25),
    };
    if host.is_empty() {
        return Err(MailError::Url(format!("`{url}` names no host")));
    }
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port);
    if let Some(credentials) = credentials {
        let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
        builder = builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
            user.to_owned(),
            password.to_owned(),
        ));
    }
    Ok(builder.build())
}

impl Mailer {
    /// SMTP when `smtp_url` is set (`smtp://host:port`), otherwise files in `folder`.
    pub fn from_settings(smtp_url: Option<&str>, folder: &Path) -> Result<Self, MailError> {
        match smtp_url {
            Some(url) => smtp_transport(url).map(Self::Smtp),
            None => Ok(Self::Files(folder.to_path_buf())),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Smtp(_) => "SMTP (CASEFLOW_SMTP_URL)".to_owned(),
            Self::Files(folder) => format!(".eml files in {}", folder.display()),
        }
    }

    pub async fn send(&self, from: &str, to: &str, message: &Rendered) -> Result<(), MailError> {
        let parse = |address: &str| {
            address
                .parse::<Mailbox>()
                .map_err(|error| MailError::Build(format!("`{address}`: {error}")))
        };
        let email = Message::builder()
            .from(parse(from)?)
            .to(parse(to)?)
            .subject(message.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|error| MailError::Build(error.to_string()))?;
        match self {
            Self::Smtp(transport) => transport
                .send(email)
                .await
                .map(|_| ())
                .map_err(|error| MailError::Send(error.to_string())),
            Self::Files(folder) => {
                tokio::fs::create_dir_all(folder)
                    .await
                    .map_err(|error| MailError::Send(error.to_string()))?;
                AsyncFileTransport::<Tokio1Executor>::new(folder)
                    .send(email)
                    .await
                    .map(|_| ())
                    .map_err(|error| MailError::Send(error.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_are_read_or_refused_clearly() {
        assert!(smtp_transport("smtp://127.0.0.1:2525").is_ok());
        assert!(smtp_transport("smtp://user:secret@mail.example.org").is_ok());
        let tls = smtp_transport("smtps://mail.example.org").expect_err("refused");
        assert!(tls.to_string().contains("TLS is not built in"), "{tls}");
        assert!(smtp_transport("smtp://host:port").is_err());
        assert!(smtp_transport("smtp://").is_err());
    }
}
