//! `footnote`: ask questions of your documents, get answers with footnotes.
//!
//! The command line ([`cli`]) is one adapter; `footnote serve` ([`serve`])
//! starts the others, the HTTP API and page ([`http`]) and the Slack bot
//! ([`slack`]). All of them hand questions to the application layer ([`app`]),
//! or, for the one-shot commands, to [`commands`]. Either way a question goes
//! to [`footnote_answer::Asker::ask`]: passages are ranked by
//! [`footnote_retrieval::Retriever`] over the [`footnote_index::Index`], and
//! the answer is composed from them by [`footnote_answer::ExtractiveAnswerer`],
//! or, with `--llm-url`, written by a language model and verified sentence by
//! sentence by [`footnote_answer::GenerativeAnswerer`].

mod app;
mod cli;
mod commands;
mod config;
mod conversations;
mod eval;
mod heap;
mod http;
mod problem;
mod progress;
mod serve;
mod slack;

use std::process::ExitCode;

use cli::{Cli, Command};

fn main() -> ExitCode {
    // Output piped into `head` and closed early ends the program quietly, as
    // command-line tools do, instead of panicking on the failed write.
    #[cfg(unix)]
    // SAFETY: restoring the default action of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FOOTNOTE_LOG")
                // pdf_oxide logs what it meets in a damaged or encrypted file;
                // ingest reports each such file once, with the reason.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,qdrant_edge=error,pdf_oxide=off")),
        )
        .init();
    let parsed = match config::parse::<Cli>(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Config(_) = parsed.cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        command.build();
        let sub = command.find_subcommand("config").expect("config is a subcommand");
        let matches = parsed.matches.subcommand_matches("config").expect("config was given");
        print!("{}", config::describe(matches, sub, &parsed.from_file, parsed.file.as_deref()));
        return ExitCode::SUCCESS;
    }
    match run(parsed.cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let message: Vec<String> = error.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", message.join(": "));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = &cli.settings;
    match cli.command {
        Command::Serve(serve) => serve::run(settings, &serve),
        Command::Config(_) => unreachable!("handled before"),
        Command::Ingest { paths, crawl, json } => commands::ingest(settings, &paths, &crawl, json),
        Command::Search { question, k, documents, ranking, json } => {
            commands::search(settings, &question, k, documents, ranking, json)
        }
        Command::Ask { question, conversation, k, documents, answer, json } => {
            commands::ask(settings, &answer, &question, conversation, k, documents, json)
        }
        Command::Docs { json } => commands::docs(settings, json),
        Command::Passages { document, json } => commands::passages(settings, document.as_deref(), json),
        Command::Delete { doc_id } => commands::delete(settings, &doc_id),
        Command::MigrateIndex { to, to_collection } => commands::migrate_index(settings, &to, to_collection),
        Command::Eval { qa, docs, k, rankings, prefetch, answer, json } => eval::run(
            settings,
            eval::EvalOptions { qa: &qa, docs: docs.as_deref(), k, rankings: &rankings, prefetch, answer: &answer, json },
        ),
    }
}
