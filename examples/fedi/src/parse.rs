//! `fedi parse FILE...`: read ActivityStreams documents and report, one JSON line per file, the
//! typed variant chosen and whether serializing gives back the same JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use activitypub_core::{AnyObject, Limits, read_json};
use serde::Serialize;

/// Arguments of `fedi parse`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// JSON files to read.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Largest document accepted, in bytes.
    #[arg(long, default_value_t = Limits::DEFAULT.max_bytes)]
    max_bytes: usize,
    /// Deepest nesting accepted.
    #[arg(long, default_value_t = Limits::DEFAULT.max_depth)]
    max_depth: usize,
}

/// One output line.
#[derive(Debug, Serialize)]
struct Report {
    file: String,
    ok: bool,
    #[serde(rename = "type")]
    type_name: Option<String>,
    kind: Option<&'static str>,
    lossless: Option<bool>,
    degraded: Vec<String>,
    error: Option<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let limits = Limits::new(args.max_bytes, args.max_depth);
    let mut all_ok = true;
    for file in &args.files {
        let report = check(file, &limits);
        all_ok &= report.ok;
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn check(file: &PathBuf, limits: &Limits) -> Report {
    let mut report = Report {
        file: file.display().to_string(),
        ok: false,
        type_name: None,
        kind: None,
        lossless: None,
        degraded: Vec::new(),
        error: None,
    };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            report.error = Some(format!("cannot read the file: {e}"));
            return report;
        }
    };
    // Read once as plain JSON for the round-trip comparison, once as the typed model.
    let input = match read_json(&bytes, limits) {
        Ok(v) => v,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    match AnyObject::from_value(input.clone()) {
        Ok(object) => {
            report.ok = true;
            report.type_name = Some(object.type_name().to_owned());
            report.kind = Some(object.variant_name());
            report.lossless = Some(object.to_value() == input);
            report.degraded = object.degraded().into_iter().map(str::to_owned).collect();
        }
        Err(e) => report.error = Some(e.to_string()),
    }
    report
}
