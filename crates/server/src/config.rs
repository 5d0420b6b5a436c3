//! Where settings come from: command-line flags, then `FOOTNOTE_*` environment
//! variables, then the TOML file named by `--config` / `FOOTNOTE_CONFIG`, then
//! the built-in defaults. The file's keys are the long flag names with `_`
//! for `-` (`data_dir = "/var/lib/footnote"`, `rate_limit = 20`).

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgMatches, Command, CommandFactory, FromArgMatches};

/// Settings whose values `footnote config` does not print.
const SECRETS: [&str; 7] =
    ["admin_token", "cookie_key", "slack_signing_secret", "slack_bot_token", "slack_app_token", "qdrant_api_key", "llm_api_key"];

/// The parsed command line, and which settings the config file supplied.
pub struct Parsed<C> {
    pub cli: C,
    pub matches: ArgMatches,
    pub from_file: HashSet<String>,
    pub file: Option<PathBuf>,
}

pub fn parse<C: CommandFactory + FromArgMatches>(args: Vec<OsString>) -> anyhow::Result<Parsed<C>> {
    let first = C::command().get_matches_from(args.clone());
    let file = match first.try_get_one::<PathBuf>("config") {
        Ok(path) => path.cloned(),
        Err(_) => None,
    };
    let Some(file) = file else {
        let cli = C::from_arg_matches(&first).map_err(|e| e.exit()).unwrap();
        return Ok(Parsed { cli, matches: first, from_file: HashSet::new(), file: None });
    };
    let table = read_file(&file)?;
    let mut from_file = HashSet::new();
    let mut command = C::command();
    for (key, value) in &table {
        let value = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => value.to_string(),
            _ => anyhow::bail!("{}: `{key}` must be a string, number or boolean", file.display()),
        };
        let (with_default, found) = set_default(command, key, &value);
        command = with_default;
        anyhow::ensure!(found, "{}: unknown setting `{key}` (the keys are the long flag names, e.g. data_dir)", file.display());
        from_file.insert(key.clone());
    }
    let matches = command.get_matches_from(args);
    let cli = C::from_arg_matches(&matches).map_err(|e| e.exit()).unwrap();
    Ok(Parsed { cli, matches, from_file, file: Some(file) })
}

fn read_file(path: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the config file {}", path.display()))?;
    text.parse::<toml::Table>().with_context(|| format!("{} is not valid TOML", path.display()))
}

/// Makes `value` the default of the argument `key` wherever it is declared.
fn set_default(mut command: Command, key: &str, value: &str) -> (Command, bool) {
    let mut found = false;
    if command.get_arguments().any(|a| a.get_id() == key) {
        // Settings are read once per process; leaking them gives clap the
        // `'static` default it wants.
        let value: &'static str = Box::leak(value.to_string().into_boxed_str());
        command = command.mut_arg(key, |a| a.default_value(value));
        found = true;
    }
    let names: Vec<String> = command.get_subcommands().map(|s| s.get_name().to_string()).collect();
    for name in names {
        let mut sub_found = false;
        command = command.mut_subcommand(&name, |sub| {
            let (sub, f) = set_default(sub, key, value);
            sub_found = f;
            sub
        });
        found |= sub_found;
    }
    (command, found)
}

/// `footnote config`: every setting of a command with its effective value and
/// where it came from, secrets masked.
pub fn describe(matches: &ArgMatches, command: &Command, from_file: &HashSet<String>, file: Option<&Path>) -> String {
    let mut out = String::new();
    if let Some(file) = file {
        out.push_str(&format!("# config file: {}\n", file.display()));
    }
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "help" | "version" | "config") || arg.get_long().is_none() {
            continue;
        }
        let values: Vec<String> = matches
            .get_raw(id)
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let value = if values.is_empty() {
            "(unset)".to_string()
        } else if SECRETS.contains(&id) {
            "********".to_string()
        } else {
            mask_url_password(&values.join(", "))
        };
        let source = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => "flag".to_string(),
            Some(ValueSource::EnvVariable) => format!("env {}", arg.get_env().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default()),
            Some(ValueSource::DefaultValue) if from_file.contains(id) => "config file".to_string(),
            Some(ValueSource::DefaultValue) => "default".to_string(),
            _ => "not set".to_string(),
        };
        out.push_str(&format!("{id} = {value}  # {source}\n"));
    }
    out
}

/// `postgres://user:secret@host/db` → `postgres://user:********@host/db`.
pub(crate) fn mask_url_password(value: &str) -> String {
    if let Some((scheme, rest)) = value.split_once("://")
        && let Some((credentials, host)) = rest.split_once('@')
        && let Some((user, _)) = credentials.split_once(':')
    {
        return format!("{scheme}://{user}:********@{host}");
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(mask_url_password("postgres://fn:s3cret@db:5432/fn"), "postgres://fn:********@db:5432/fn");
        assert_eq!(mask_url_password("sqlite://data/c.db"), "sqlite://data/c.db");
    }
}
