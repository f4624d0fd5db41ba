//! `fedi`: the toolkit's command-line tool.
//!
//! Each subcommand lives in its own module and prints JSON on standard output, so its output can
//! be read by scripts and conformance suites.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod discover;
mod parse;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => parse::run(args),
        Command::Sign(args) => signatures::run_sign(args),
        Command::Verify(args) => signatures::run_verify(args),
        Command::Webfinger(args) => discover::run_webfinger(args),
        Command::Nodeinfo(args) => discover::run_nodeinfo(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("fedi: {error:#}");
            ExitCode::from(2)
        }
    }
}
