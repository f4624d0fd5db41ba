//! [`WebConfig`]: what the host chooses.

use std::net::IpAddr;
use std::time::Duration;

use url::Url;

/// Who may make an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignupMode {
    /// Anyone: the account is active at once, with its first identity.
    Open,
    /// Anyone may ask; the account waits until a moderator approves it (`/admin/signups`),
    /// and gets its first identity then.
    Approval,
    /// Nobody: the host makes accounts (`InstanceState::create_account`).
    Closed,
}

/// A rate of attempts: `attempts` at once, then one more every `window / attempts` (a
/// generic cell rate: the allowance refills steadily rather than all at once at the end of a
/// window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// How many attempts at once (at least 1).
    pub attempts: u32,
    /// How long until a spent allowance is whole again.
    pub window: Duration,
}

impl RateLimit {
    /// `attempts` attempts per `window` (`attempts` at least 1).
    pub fn new(attempts: u32, window: Duration) -> Self {
        Self {
            attempts: attempts.max(1),
            window,
        }
    }
}

/// How the pages behave. Build it with [`WebConfig::new`] and the `with_` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebConfig {
    /// The server's base URL, as the browser sees it. Its scheme decides the cookies: `https`
    /// makes them `Secure` and `__Host-` prefixed. Its origin is the one `Origin` headers must
    /// name on a form's post.
    pub base_url: Url,
    /// Who may sign up. Default: [`SignupMode::Closed`].
    pub signup: SignupMode,
    /// How long a session lasts from sign-in. Default: 30 days.
    pub session_lifetime: Duration,
    /// Failed sign-ins (and wrong current passwords) per account. Default: 10 per 15 minutes.
    pub failed_logins_per_account: RateLimit,
    /// Failed sign-ins per client address (an IPv6 address counts by its /64). Default: 30 per
    /// 15 minutes.
    pub failed_logins_per_address: RateLimit,
    /// Accounts made per client address. Default: 5 per hour.
    pub signups_per_address: RateLimit,
    /// How many accounts and addresses each limiter remembers at most: memory stays bounded
    /// however many addresses the network sends. Default: 10 000.
    pub tracked_keys: usize,
    /// Whether the limiters keep their counts in the database, shared by every process that
    /// serves it (several processes behind a load balancer), rather than in this process's
    /// memory. Default: `false` (one process: memory is faster, and bounded by
    /// [`WebConfig::tracked_keys`]).
    pub shared_limits: bool,
    /// The reverse proxies whose `X-Forwarded-For` is believed. Default: none, and then the
    /// header is ignored: the client is the connection's peer. When the peer is one of these,
    /// the client is the rightmost address of `X-Forwarded-For` that is not one of these.
    pub trusted_proxies: Vec<IpAddr>,
    /// How many identities an account may have (each has its own keys). Default: 10.
    pub max_identities: usize,
    /// The shortest password accepted, in characters. Default: 10.
    pub min_password_chars: usize,
    /// The largest form body read, in bytes. Default: 16 KiB.
    pub max_form_bytes: usize,
}

/// The longest password accepted, in bytes: hashing cost should not depend on what a
/// stranger sends.
pub(crate) const MAX_PASSWORD_BYTES: usize = 1024;

impl WebConfig {
    /// The defaults for a server at `base_url`.
    pub fn new(base_url: Url) -> Self {
        const MINUTE: u64 = 60;
        Self {
            base_url,
            signup: SignupMode::Closed,
            session_lifetime: Duration::from_secs(30 * 24 * 60 * MINUTE),
            failed_logins_per_account: RateLimit::new(10, Duration::from_secs(15 * MINUTE)),
            failed_logins_per_address: RateLimit::new(30, Duration::from_secs(15 * MINUTE)),
            signups_per_address: RateLimit::new(5, Duration::from_secs(60 * MINUTE)),
            tracked_keys: 10_000,
            shared_limits: false,
            trusted_proxies: Vec::new(),
            max_identities: 10,
            min_password_chars: 10,
            max_form_bytes: 16 * 1024,
        }
    }

    /// Keeps the limiters' counts in the database, shared by every process serving it.
    pub fn with_shared_limits(mut self, shared: bool) -> Self {
        self.shared_limits = shared;
        self
    }

    /// Sets who may sign up.
    pub fn with_signup(mut self, mode: SignupMode) -> Self {
        self.signup = mode;
        self
    }

    /// Sets how long a session lasts.
    pub fn with_session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// Sets the failed sign-ins allowed per account.
    pub fn with_failed_logins_per_account(mut self, limit: RateLimit) -> Self {
        self.failed_logins_per_account = limit;
        self
    }

    /// Sets the failed sign-ins allowed per client address.
    pub fn with_failed_logins_per_address(mut self, limit: RateLimit) -> Self {
        self.failed_logins_per_address = limit;
        self
    }

    /// Sets the sign-ups allowed per client address.
    pub fn with_signups_per_address(mut self, limit: RateLimit) -> Self {
        self.signups_per_address = limit;
        self
    }

    /// Sets how many keys each limiter remembers (at least 1).
    pub fn with_tracked_keys(mut self, keys: usize) -> Self {
        self.tracked_keys = keys.max(1);
        self
    }

    /// Believes `X-Forwarded-For` from these proxies (and only from them).
    pub fn with_trusted_proxies(mut self, proxies: Vec<IpAddr>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// Sets how many identities an account may have.
    pub fn with_max_identities(mut self, max: usize) -> Self {
        self.max_identities = max;
        self
    }

    /// Sets the shortest password accepted.
    pub fn with_min_password_chars(mut self, chars: usize) -> Self {
        self.min_password_chars = chars;
        self
    }

    /// Sets the largest form body read.
    pub fn with_max_form_bytes(mut self, bytes: usize) -> Self {
        self.max_form_bytes = bytes;
        self
    }

    /// Whether the base URL is `https` (cookies `Secure`, `__Host-` names).
    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }
}
