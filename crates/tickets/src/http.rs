//! The HTTP client the adapters share: JSON in and out, the credential in one header, retries
//! with back-off on rate limits and transient failures, and errors with the credential redacted.

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::{Error, Secret};

/// How hard to retry a request the tracker refuses for now (429, 502–504, a rate limit's 403,
/// a dropped connection).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// First back-off; it doubles each time, unless the tracker says how long to wait.
    pub first_wait: Duration,
    /// Longest single wait, whatever the tracker asks for.
    pub max_wait: Duration,
    /// Time limit of one request.
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry { attempts: 6, first_wait: Duration::from_secs(1), max_wait: Duration::from_secs(60), timeout: Duration::from_secs(30) }
    }
}

/// How the credential is sent.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    /// In a header of its own (`X-Redmine-API-Key`, `PRIVATE-TOKEN`).
    Header(&'static str),
    /// `Authorization: Bearer …`.
    Bearer,
    /// `Authorization: Basic user:token` (Jira Cloud).
    Basic(String),
}

/// A response: status, JSON body (Null when empty or not JSON) and the headers adapters read.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
    pub location: Option<String>,
    pub link_next: Option<String>,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Debug)]
pub(crate) struct Client {
    pub base: String,
    agent: ureq::Agent,
    secret: Secret,
    pub auth: Auth,
    retry: Retry,
    extra: Vec<(&'static str, &'static str)>,
}

/// Largest answer read, in bytes.
const MAX_ANSWER: u64 = 32 * 1024 * 1024;

impl Client {
    pub fn new(base: &str, secret: Secret, retry: Retry) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(retry.timeout))
            .user_agent(concat!("threatmap/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client { base: base.to_owned(), agent, secret, auth: Auth::Bearer, retry, extra: Vec::new() }
    }

    /// Adds a header sent with every request (`Accept`, an API version).
    pub fn header(&mut self, name: &'static str, value: &'static str) {
        self.extra.push((name, value));
    }

    /// The full URL of `path` (already a URL when it starts with http).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") { path.to_owned() } else { format!("{}{path}", self.base) }
    }

    /// Removes the credential from a text (an error message, a body echoed back).
    pub fn redact(&self, text: &str) -> String {
        let s = self.secret.expose();
        let mut out = text.to_owned();
        if !s.is_empty() {
            out = out.replace(s, "[redacted]");
            if let Auth::Basic(user) = &self.auth {
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{s}"));
                out = out.replace(&encoded, "[redacted]");
            }
        }
        out
    }

    pub fn get(&self, path: &str) -> Result<Answer, Error> {
        self.send("GET", path, None)
    }

    /// Sends one request, retrying what a tracker refuses for now. Statuses other than those are
    /// returned, not turned into errors: each adapter knows which mean what.
    pub fn send(&self, method: &'static str, path: &str, body: Option<&Value>) -> Result<Answer, Error> {
        let url = self.url(path);
        let payload = body.map(|b| b.to_string());
        let mut wait = self.retry.first_wait;
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts.max(1) {
            match self.once(method, &url, payload.as_deref()) {
                Ok((answer, retry_after)) => {
                    let transient = matches!(answer.status, 429 | 502 | 503 | 504) || (answer.status == 403 && retry_after.is_some());
                    if !transient {
                        return Ok(answer);
                    }
                    last = format!("{} {}", answer.status, short(&self.redact(&answer.body.to_string())));
                    if attempt < self.retry.attempts {
                        std::thread::sleep(retry_after.unwrap_or(wait).min(self.retry.max_wait));
                    }
                }
                Err(e) => {
                    last = self.redact(&e.to_string());
                    // Nothing listens there, or the name does not resolve: waiting will not help.
                    if let Some(why) = unreachable(&e) {
                        return Err(Error::Network(format!("{method} {}: {why} ({last}); check the tracker's URL", self.redact(&url))));
                    }
                    if attempt < self.retry.attempts {
                        std::thread::sleep(wait.min(self.retry.max_wait));
                    }
                }
            }
            wait = wait.saturating_mul(2);
        }
        Err(Error::Network(format!(
            "{method} {url}: gave up after {} attempt(s): {last}",
            self.retry.attempts.max(1),
            url = self.redact(&url)
        )))
    }

    /// One request. Returns the answer and how long the tracker asks to wait before the next.
    fn once(&self, method: &str, url: &str, payload: Option<&str>) -> Result<(Answer, Option<Duration>), ureq::Error> {
        let auth = match &self.auth {
            Auth::Header(name) => ((*name).to_owned(), self.secret.expose().to_owned()),
            Auth::Bearer => ("Authorization".to_owned(), format!("Bearer {}", self.secret.expose())),
            Auth::Basic(user) => (
                "Authorization".to_owned(),
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", self.secret.expose()))),
            ),
        };
        let mut resp = match (method, payload) {
            ("GET", _) => self.with_headers(self.agent.get(url), &auth).call()?,
            ("DELETE", _) => self.with_headers(self.agent.delete(url), &auth).call()?,
            (m, p) => {
                let b = match m {
                    "POST" => self.agent.post(url),
                    "PUT" => self.agent.put(url),
                    _ => self.agent.patch(url),
                };
                self.with_headers(b, &auth).header("Content-Type", "application/json").send(p.unwrap_or("{}"))?
            }
        };
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs).or_else(|| {
            // GitHub: a spent rate limit is a 403 with the reset time.
            (header("x-ratelimit-remaining").as_deref() == Some("0"))
                .then(|| header("x-ratelimit-reset").and_then(|r| r.parse::<u64>().ok()))
                .flatten()
                .map(|reset| {
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(reset);
                    Duration::from_secs(reset.saturating_sub(now).max(1))
                })
        });
        let location = header("location");
        let link_next = header("link").and_then(|l| next_link(&l));
        let text = resp.body_mut().with_config().limit(MAX_ANSWER).read_to_string()?;
        let body = if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Ok((Answer { status, body, location, link_next }, retry_after))
    }

    fn with_headers<B>(&self, mut b: ureq::RequestBuilder<B>, auth: &(String, String)) -> ureq::RequestBuilder<B> {
        b = b.header("Accept", "application/json").header(auth.0.as_str(), auth.1.as_str());
        for (k, v) in &self.extra {
            b = b.header(*k, *v);
        }
        b
    }

    /// Every item of a JSON list that the tracker pages with `Link: rel="next"` (GitHub,
    /// GitLab), from `first` on.
    pub fn pages(&self, first: &str) -> Result<Vec<Value>, Error> {
        let mut items = Vec::new();
        let mut path = first.to_owned();
        loop {
            let a = self.get(&path)?;
            if !a.ok() {
                return Err(self.refused("GET", &path, &a));
            }
            items.extend(a.body.as_array().into_iter().flatten().cloned());
            match a.link_next {
                Some(next) => path = next,
                None => return Ok(items),
            }
        }
    }

    /// The error for an answer an adapter did not expect.
    pub fn refused(&self, method: &'static str, path: &str, a: &Answer) -> Error {
        let message = match &a.body {
            Value::Null => String::new(),
            Value::String(s) => short(s),
            v => short(&v.to_string()),
        };
        let hint = match a.status {
            401 => "the credential was refused: check the token the tracker settings read",
            403 => "the credential may not do this in the project",
            404 => "not found: check the project and the URL",
            410 => "gone",
            422 | 400 => "the tracker refused the ticket's fields",
            _ => "",
        };
        let message = match (message.is_empty(), hint.is_empty()) {
            (true, _) => hint.to_owned(),
            (false, true) => message,
            (false, false) => format!("{hint}: {message}"),
        };
        Error::Refused { method, url: self.redact(&self.url(path)), status: a.status, message: self.redact(&message) }
    }
}

/// Why a transport error means the tracker cannot be reached at this URL at all (no retry),
/// or None for errors worth retrying (timeouts, dropped connections).
fn unreachable(e: &ureq::Error) -> Option<&'static str> {
    match e {
        ureq::Error::HostNotFound => Some("the host name does not resolve"),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => Some("nothing answers at that address"),
        ureq::Error::ConnectionFailed => Some("the connection could not be made"),
        ureq::Error::BadUri(_) | ureq::Error::RequireHttpsOnly(_) => Some("the URL is not usable"),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::TlsRequired => Some("the TLS connection failed"),
        _ => None,
    }
}

/// The `rel="next"` URL of a `Link` header (GitHub and GitLab paginate this way).
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, rest) = part.split_once(';')?;
        rest.contains("rel=\"next\"").then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

/// The first 300 characters of a text.
fn short(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// What is escaped in a path segment or query value: all but RFC 3986's unreserved characters.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes one path segment or query value.
pub(crate) fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_are_read_from_link_headers() {
        let h =
            r#"<https://api.github.com/repos/o/r/issues?page=2>; rel="next", <https://api.github.com/repos/o/r/issues?page=5>; rel="last""#;
        assert_eq!(next_link(h).as_deref(), Some("https://api.github.com/repos/o/r/issues?page=2"));
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
    }

    #[test]
    fn the_credential_is_redacted_in_every_form_it_is_sent() {
        let mut c = Client::new("https://example.atlassian.net", Secret("tok-123".into()), Retry::default());
        c.auth = Auth::Basic("me@example.com".into());
        let basic = base64::engine::general_purpose::STANDARD.encode("me@example.com:tok-123");
        assert_eq!(c.redact(&format!("bad tok-123 and {basic}")), "bad [redacted] and [redacted]");
    }
}
