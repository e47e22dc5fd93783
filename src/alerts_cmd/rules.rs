//! `weir rules check FILE...`: parses and validates rule files as the
//! server loads them, with every expression parsed in its group's
//! language and every template compiled. Problems print as
//! `file:line:column: message`; the exit code is 1 if there was any.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use alerting::config::read_bounded;
use alerting::query::Language;
use alerting::rules::{self, MAX_FILE_BYTES, Rule};

use crate::rule_query::SyntaxQuerier;

pub fn check(files: &[PathBuf], logql: bool) -> anyhow::Result<ExitCode> {
    let language = if logql {
        Language::LogQl
    } else {
        Language::PromQl
    };
    let mut failed = false;
    for file in files {
        let name = file.display().to_string();
        let text = match read_bounded(file, MAX_FILE_BYTES as u64) {
            Ok(text) => text,
            Err(error) => {
                println!("{error}");
                failed = true;
                continue;
            }
        };
        // The interval only fills groups that set none; it is not checked.
        let interval = Duration::from_secs(60);
        match rules::load(&name, &text, language, interval, &SyntaxQuerier) {
            Ok(groups) => {
                let count: usize = groups.iter().map(|g| g.rules.len()).sum();
                let alerting = groups
                    .iter()
                    .flat_map(|g| &g.rules)
                    .filter(|r| matches!(r, Rule::Alerting(_)))
                    .count();
                println!(
                    "{name}: ok, {} groups, {count} rules ({alerting} alerting, {} recording)",
                    groups.len(),
                    count - alerting
                );
            }
            Err(problems) => {
                failed = true;
                for problem in problems {
                    println!("{problem}");
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
