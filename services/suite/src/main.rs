//! The `tenure` binary: parses the command line, reads the environment once, and runs the command.

use std::process::ExitCode;

use clap::Parser;
use tenure::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The only place the process environment is read; everything below receives it as a value.
    let env: Vec<(String, String)> = std::env::vars().collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tenure")
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tenure::output::error(&anyhow::Error::new(error).context("starting the runtime"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(tenure::commands::run(cli, env)) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of a pipe went away: it read what it wanted, so nothing failed.
        Err(error) if tenure::output::is_closed_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            tenure::output::error(&error);
            tenure::client::exit_code(&error)
        }
    }
}
