//! Executors that call out: an HTTP webhook and a local command, for restart and scaling hooks
//! an operator already has. Both are allow-listed: a webhook goes only to a configured URL prefix,
//! a command runs only if its program is configured, with arguments from the action (never a
//! shell), under a timeout. Anything else is refused before any I/O.

use std::time::Duration;

use serde::Deserialize;

/// `[actuator.hooks]` configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HooksConfig {
    /// URL prefixes a webhook may be sent to, e.g. `https://deploy.internal/hooks/`.
    pub webhook_allow: Vec<String>,
    /// Programs (absolute paths) a command may run.
    pub command_allow: Vec<String>,
    /// Seconds before a hook is abandoned.
    pub timeout_s: u64,
    /// Which hook carries out which strategy (by its snake_case name), in execute mode.
    pub run: std::collections::HashMap<String, HookTarget>,
}

/// A hook for a strategy: a webhook URL, or a command (program and arguments, where `{service}`,
/// `{incident}` and `{action}` are replaced).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HookTarget {
    /// POST the action here.
    pub webhook: Option<String>,
    /// Run this.
    pub command: Option<Vec<String>>,
}

/// Why a hook did not run or did not succeed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HookError {
    /// Not on the allow-list.
    #[error("{0} is not allow-listed")]
    NotAllowed(String),
    /// Could not run or reach it.
    #[error("{0}: {1}")]
    Failed(String, String),
    /// Ran past the timeout.
    #[error("{0}: no answer within {1:?}")]
    Timeout(String, Duration),
    /// Answered with failure.
    #[error("{0} answered {1}: {2}")]
    Refused(String, String, String),
}

/// What a hook answered.
#[derive(Debug, Clone, PartialEq)]
pub struct HookOutcome {
    /// Status code or exit code.
    pub code: i32,
    /// Body or standard output, at most 2 KiB.
    pub output: String,
}

fn clip(s: &str) -> String {
    s.chars().take(2048).collect()
}

/// The allow-listed executors.
#[derive(Debug, Clone)]
pub struct Hooks {
    cfg: HooksConfig,
    client: reqwest::Client,
}

impl Hooks {
    /// Hooks with this allow-list.
    pub fn new(cfg: HooksConfig) -> Self {
        let timeout = Duration::from_secs(cfg.timeout_s.max(1));
        Self {
            client: reqwest::Client::builder().timeout(timeout).build().unwrap_or_default(),
            cfg,
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.timeout_s.max(1))
    }

    /// Is there a hook for `strategy`?
    pub fn handles(&self, strategy: &str) -> bool {
        self.cfg
            .run
            .get(strategy)
            .is_some_and(|t| t.webhook.is_some() || t.command.is_some())
    }

    /// Carry out an action through its strategy's hook; the detail for the record.
    pub async fn run(&self, strategy: &str, action: &serde_json::Value) -> Result<String, HookError> {
        let target = self
            .cfg
            .run
            .get(strategy)
            .ok_or_else(|| HookError::NotAllowed(format!("a hook for {strategy}")))?;
        if let Some(url) = &target.webhook {
            let out = self.webhook(url, action).await?;
            return Ok(format!("webhook {url} answered {}", out.code));
        }
        let Some(cmd) = target.command.as_ref().filter(|c| !c.is_empty()) else {
            return Err(HookError::NotAllowed(format!("a hook for {strategy}")));
        };
        let field = |k: &str| action.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let args: Vec<String> = cmd[1..]
            .iter()
            .map(|a| {
                a.replace("{service}", &field("service_id"))
                    .replace("{incident}", &field("incident_id"))
                    .replace("{action}", &field("id"))
            })
            .collect();
        let out = self.command(&cmd[0], &args).await?;
        Ok(format!("{} exited {}: {}", cmd[0], out.code, out.output.trim()))
    }

    /// Is `url` under an allowed prefix? The URL is normalized first (so `/hooks/../admin` is
    /// `/admin`), and prefixes match on whole path segments.
    pub fn webhook_allowed(&self, url: &str) -> bool {
        let Ok(parsed) = reqwest::Url::parse(url) else {
            return false;
        };
        let url = parsed.as_str();
        self.cfg.webhook_allow.iter().any(|p| {
            url.starts_with(p.as_str())
                && (p.ends_with('/') || url.len() == p.len() || url[p.len()..].starts_with(['/', '?']))
        })
    }

    /// POST `body` (JSON) to `url`; a 2xx answer is success.
    pub async fn webhook(&self, url: &str, body: &serde_json::Value) -> Result<HookOutcome, HookError> {
        if !self.webhook_allowed(url) {
            return Err(HookError::NotAllowed(url.to_owned()));
        }
        let r = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    HookError::Timeout(url.to_owned(), self.timeout())
                } else {
                    HookError::Failed(url.to_owned(), e.to_string())
                }
            })?;
        let code = r.status();
        let text = clip(&r.text().await.unwrap_or_default());
        if code.is_success() {
            Ok(HookOutcome {
                code: i32::from(code.as_u16()),
                output: text,
            })
        } else {
            Err(HookError::Refused(url.to_owned(), code.to_string(), text))
        }
    }

    /// Run `program` with `args` (no shell); exit code 0 is success.
    pub async fn command(&self, program: &str, args: &[String]) -> Result<HookOutcome, HookError> {
        if !self.cfg.command_allow.iter().any(|p| p == program) {
            return Err(HookError::NotAllowed(program.to_owned()));
        }
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args).kill_on_drop(true).stdin(std::process::Stdio::null());
        let out = tokio::time::timeout(self.timeout(), cmd.output())
            .await
            .map_err(|_| HookError::Timeout(program.to_owned(), self.timeout()))?
            .map_err(|e| HookError::Failed(program.to_owned(), e.to_string()))?;
        let code = out.status.code().unwrap_or(-1);
        let stdout = clip(&String::from_utf8_lossy(&out.stdout));
        if out.status.success() {
            Ok(HookOutcome { code, output: stdout })
        } else {
            Err(HookError::Refused(
                program.to_owned(),
                format!("exit {code}"),
                clip(&String::from_utf8_lossy(&out.stderr)),
            ))
        }
    }
}
