//! The outcome of each check, and the three ways of printing them: text, JSON and TAP.

use std::io::Write as _;

use anyhow::Context as _;
use serde_json::{Value, json};

use super::{CATALOGUE, Check};

/// How to print the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// One line per check, the evidence indented under a failure.
    Text,
    /// One JSON document.
    Json,
    /// Test Anything Protocol, version 14.
    Tap,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It holds.
    Pass,
    /// It does not; the evidence.
    Fail(String),
    /// It was not run; why.
    Skip(String),
}

/// The outcomes so far.
#[derive(Debug, Default)]
pub(crate) struct Report {
    only: Vec<String>,
    results: Vec<(Check, Outcome)>,
}

impl Report {
    /// An empty report; with `only`, the checks whose id starts with none of them are left out.
    pub(crate) fn new(only: Vec<String>) -> Report {
        Report {
            only,
            results: Vec::new(),
        }
    }

    /// Whether `id` is to be run.
    pub(crate) fn wants(&self, id: &str) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|prefix| id.starts_with(prefix.as_str()))
    }

    /// Records `outcome` for `id` (a later outcome for the same id replaces an earlier one).
    pub(crate) fn record(&mut self, id: &str, outcome: Outcome) {
        if !self.wants(id) {
            return;
        }
        let Some(check) = CATALOGUE.iter().find(|check| check.id == id) else {
            return;
        };
        self.results.retain(|(c, _)| c.id != id);
        self.results.push((*check, outcome));
    }

    /// Records a pass, or a failure with the evidence.
    pub(crate) fn check(&mut self, id: &str, result: Result<(), String>) {
        let outcome = match result {
            Ok(()) => Outcome::Pass,
            Err(evidence) => Outcome::Fail(evidence),
        };
        self.record(id, outcome);
    }

    /// Records a skip.
    pub(crate) fn skip(&mut self, id: &str, reason: impl Into<String>) {
        self.record(id, Outcome::Skip(reason.into()));
    }

    /// Skips every check of `ids` not recorded yet.
    pub(crate) fn skip_all(&mut self, ids: &[&str], reason: &str) {
        for id in ids {
            if !self.has(id) {
                self.skip(id, reason);
            }
        }
    }

    /// Whether `id` has an outcome.
    pub(crate) fn has(&self, id: &str) -> bool {
        self.results.iter().any(|(c, _)| c.id == id)
    }

    /// How many checks failed.
    pub(crate) fn failed(&self) -> usize {
        self.results
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Fail(_)))
            .count()
    }

    /// The results in catalogue order.
    fn ordered(&self) -> Vec<&(Check, Outcome)> {
        CATALOGUE
            .iter()
            .filter_map(|check| self.results.iter().find(|(c, _)| c.id == check.id))
            .collect()
    }

    /// The report as JSON.
    pub(crate) fn to_json(&self, target: &str) -> Value {
        let checks: Vec<Value> = self
            .ordered()
            .into_iter()
            .map(|(check, outcome)| {
                let (name, detail) = match outcome {
                    Outcome::Pass => ("pass", Value::Null),
                    Outcome::Fail(evidence) => ("fail", json!(evidence)),
                    Outcome::Skip(reason) => ("skip", json!(reason)),
                };
                let mut entry = json!({
                    "id": check.id,
                    "statement": check.statement,
                    "reaches_back": check.reaches_back,
                    "outcome": name,
                });
                if let Some(map) = entry.as_object_mut() {
                    match outcome {
                        Outcome::Fail(_) => map.insert("evidence".into(), detail),
                        Outcome::Skip(_) => map.insert("reason".into(), detail),
                        Outcome::Pass => None,
                    };
                }
                entry
            })
            .collect();
        let count =
            |wanted: fn(&Outcome) -> bool| self.results.iter().filter(|(_, o)| wanted(o)).count();
        json!({
            "target": target,
            "checks": checks,
            "summary": {
                "pass": count(|o| matches!(o, Outcome::Pass)),
                "fail": count(|o| matches!(o, Outcome::Fail(_))),
                "skip": count(|o| matches!(o, Outcome::Skip(_))),
            },
        })
    }

    /// The report as text.
    pub(crate) fn to_text(&self, target: &str) -> String {
        let mut out = format!("fedi check {target}\n");
        for (check, outcome) in self.ordered() {
            let (word, detail) = match outcome {
                Outcome::Pass => ("PASS", None),
                Outcome::Fail(evidence) => ("FAIL", Some(evidence)),
                Outcome::Skip(reason) => ("SKIP", Some(reason)),
            };
            out.push_str(&format!("{word} {:<34} {}\n", check.id, check.statement));
            if let Some(detail) = detail {
                for line in detail.lines() {
                    out.push_str(&format!("       {line}\n"));
                }
            }
        }
        let count =
            |wanted: fn(&Outcome) -> bool| self.results.iter().filter(|(_, o)| wanted(o)).count();
        out.push_str(&format!(
            "{} passed, {} failed, {} skipped\n",
            count(|o| matches!(o, Outcome::Pass)),
            count(|o| matches!(o, Outcome::Fail(_))),
            count(|o| matches!(o, Outcome::Skip(_))),
        ));
        out
    }

    /// The report as TAP 14.
    pub(crate) fn to_tap(&self, target: &str) -> String {
        let ordered = self.ordered();
        let mut out = format!(
            "TAP version 14\n# fedi check {target}\n1..{}\n",
            ordered.len()
        );
        for (n, (check, outcome)) in ordered.into_iter().enumerate() {
            let n = n + 1;
            match outcome {
                Outcome::Pass => {
                    out.push_str(&format!("ok {n} - {}: {}\n", check.id, check.statement))
                }
                Outcome::Skip(reason) => out.push_str(&format!(
                    "ok {n} - {}: {} # SKIP {}\n",
                    check.id,
                    check.statement,
                    reason.replace('\n', " ")
                )),
                Outcome::Fail(evidence) => {
                    out.push_str(&format!("not ok {n} - {}: {}\n", check.id, check.statement));
                    out.push_str("  ---\n  evidence: |\n");
                    for line in evidence.lines() {
                        out.push_str(&format!("    {line}\n"));
                    }
                    out.push_str("  ...\n");
                }
            }
        }
        out
    }

    /// Prints the catalogue (`--list`) in `format`: TAP has no use for it, and prints text.
    pub(crate) fn print_catalogue(format: Format) -> anyhow::Result<()> {
        let text = match format {
            Format::Json => {
                let checks: Vec<Value> = CATALOGUE
                    .iter()
                    .map(|check| {
                        json!({
                            "id": check.id,
                            "statement": check.statement,
                            "reaches_back": check.reaches_back,
                        })
                    })
                    .collect();
                format!("{}\n", serde_json::to_string_pretty(&checks)?)
            }
            Format::Text | Format::Tap => CATALOGUE
                .iter()
                .map(|check| {
                    let back = if check.reaches_back {
                        " (needs the server to reach fedi)"
                    } else {
                        ""
                    };
                    format!("{:<34} {}{back}\n", check.id, check.statement)
                })
                .collect(),
        };
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .context("cannot write to standard output")
    }

    /// Prints the report in `format`.
    pub(crate) fn print(&self, format: Format, target: &str) -> anyhow::Result<()> {
        let text = match format {
            Format::Text => self.to_text(target),
            Format::Json => format!("{}\n", serde_json::to_string_pretty(&self.to_json(target))?),
            Format::Tap => self.to_tap(target),
        };
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .context("cannot write to standard output")
    }
}
