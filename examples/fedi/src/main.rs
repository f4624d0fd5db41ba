//! `fedi`: the toolkit's command-line tool.
//!
//! Each subcommand lives in its own module and prints JSON on standard output (`fedi check`
//! also text and TAP), so its output can be read by scripts and conformance suites.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

mod actor;
mod check;
mod deliver;
mod discover;
mod inbox;
mod lookup;
mod net;
mod parse;
mod probe;
mod signatures;

/// The fediverse toolkit's command-line tool.
#[derive(Debug, Parser)]
#[command(name = "fedi", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse ActivityStreams documents and report the typed variant and the round trip.
    Parse(parse::Args),
    /// Add a digest and an HTTP signature to a raw HTTP/1.1 request and print it.
    Sign(signatures::SignArgs),
    /// Verify the HTTP signature of a raw HTTP/1.1 request; print one JSON object.
    Verify(signatures::VerifyArgs),
    /// Resolve a handle or URL to its ActivityPub actor through WebFinger; print JSON.
    Webfinger(discover::WebfingerArgs),
    /// Discover and fetch a server's NodeInfo; print JSON.
    Nodeinfo(discover::NodeinfoArgs),
    /// Look up a handle or URL: WebFinger, then the document, as our types understood it and
    /// as raw JSON; `--traverse` walks a collection's pages.
    Lookup(lookup::Args),
    /// Serve an ephemeral actor on a local port and print every request it receives, with its
    /// verification result; `--follow` sends a Follow and shows the answer.
    Inbox(inbox::Args),
    /// Sign an activity and POST it to an inbox; print the answer.
    Deliver(deliver::Args),
    /// Check a server (a base URL, an actor URL or a handle) against a catalogue of
    /// conformance checks; exit status: the number of failed checks (at most 100).
    Check(check::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `check` counts failed checks in its exit status (at most 100): its own failures are
    // above that.
    let error_code = if matches!(cli.command, Command::Check(_)) {
        101
    } else {
        2
    };
    let result = match cli.command {
        Command::Parse(args) => parse::run(args),
        Command::Sign(args) => signatures::run_sign(args),
        Command::Verify(args) => signatures::run_verify(args),
        Command::Webfinger(args) => discover::run_webfinger(args),
        Command::Nodeinfo(args) => discover::run_nodeinfo(args),
        Command::Lookup(args) => lookup::run(args),
        Command::Inbox(args) => inbox::run(args),
        Command::Deliver(args) => deliver::run(args),
        Command::Check(args) => check::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("fedi: {}", net::explain(&error));
            ExitCode::from(error_code)
        }
    }
}

/// The member `key` of `value`, `null` when there is none (`value[key]` without the lint).
pub(crate) fn field<'a>(value: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    value.get(key).unwrap_or(&serde_json::Value::Null)
}

/// Prints `value` as pretty JSON on standard output.
pub(crate) fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    // `writeln!` rather than `println!`, so that a closed pipe (`| head`) is an error, not a
    // panic.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", serde_json::to_string_pretty(value)?)
        .context("cannot write to standard output")
}
