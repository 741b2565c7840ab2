//! `tenant-alerting-policy check`: the admission policy run on files, directories or a
//! chart's rendered output, before the cluster sees them; `--fix` writes its changes back.

pub mod check;
pub mod cluster;
pub mod diff;
pub mod fix;
pub mod input;
pub mod report;
pub mod yaml;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use check::{Config, Record};
use cluster::OfflineCluster;
use input::Source;
use report::{Format, Summary};

#[derive(Debug, Parser)]
#[command(name = "tenant-alerting-policy", version = check::POLICY_VERSION, about = "Check PrometheusRules and AlertmanagerConfigs with the tenant-alerting-policy before the cluster does")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Judge every PrometheusRule and AlertmanagerConfig as admission would (CREATE).
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Files, directories (walked for *.yaml, *.yml, *.json) or `-` for standard input.
    #[arg(value_name = "PATH|-", default_value = ".")]
    pub paths: Vec<String>,
    /// Policy settings, JSON or YAML (as `kwctl run --settings-path`).
    #[arg(long, value_name = "FILE", conflicts_with = "policy")]
    pub settings: Option<PathBuf>,
    /// A ClusterAdmissionPolicy or AdmissionPolicy manifest: its spec.settings, and its
    /// namespaceSelector/objectSelector/rules decide what is reviewed.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Namespace for objects without metadata.namespace (as `kubectl apply -n`).
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Namespace and Service objects (YAML objects or List, or a kwctl session file)
    /// answering the policy's cluster reads, besides those in the input.
    #[arg(long, value_name = "FILE")]
    pub cluster: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Exit 1 also when the policy would change an object.
    #[arg(long)]
    pub fail_on_change: bool,
    /// Write the policy's changes into the files (with `-`: print the fixed stream).
    #[arg(long)]
    pub fix: bool,
    /// Also list objects admitted unchanged (text format).
    #[arg(short, long)]
    pub verbose: bool,
}

/// Runs the command line `args` (without the program name's handling: clap's own) and
/// returns the exit code: 0 admitted unchanged, 1 rejected (or changed with
/// `--fail-on-change`), 2 usage errors and unreadable input.
pub fn main_with(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let Command::Check(args) = cli.command;
    match run_check(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}

fn read_file(path: &PathBuf) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Everything `check` needs but the inputs: settings, scope and the cluster files.
pub fn configure(args: &CheckArgs) -> Result<(Config, OfflineCluster)> {
    let (settings_value, scope) = match (&args.settings, &args.policy) {
        (Some(path), _) => (
            check::settings_from_file(&read_file(path)?)
                .with_context(|| format!("{}", path.display()))?,
            None,
        ),
        (None, Some(path)) => {
            let (settings, scope) = check::policy_from_manifest(&read_file(path)?)
                .with_context(|| format!("{}", path.display()))?;
            (settings, Some(scope))
        }
        (None, None) => anyhow::bail!(
            "no settings: pass --settings FILE or --policy FILE (the policy needs at least clusterDomain)"
        ),
    };
    let settings_file = args
        .settings
        .as_ref()
        .or(args.policy.as_ref())
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let settings = check::parse_settings(&settings_value).context(settings_file)?;
    let mut cluster = OfflineCluster::default();
    for path in &args.cluster {
        cluster
            .add_file(&read_file(path)?)
            .with_context(|| format!("{}", path.display()))?;
    }
    Ok((
        Config {
            settings_value,
            settings,
            namespace: args.namespace.clone(),
            scope,
            fix: args.fix,
        },
        cluster,
    ))
}

fn run_check(args: &CheckArgs) -> Result<i32> {
    let (config, mut cluster) = configure(args)?;
    let (sources, walk_errors) = input::collect(&args.paths);
    let mut stdin = None;
    check::gather_cluster(&sources, &mut stdin, &mut cluster);

    let mut records: Vec<Record> = walk_errors
        .into_iter()
        .map(|(path, why)| error_record(&path, 0, why))
        .collect();
    let mut fixed_stdin: Option<String> = None;
    for source in &sources {
        let name = source.display();
        let text = match input::read(source, &mut stdin) {
            Ok(text) => text,
            Err((line, why)) => {
                records.push(error_record(&name, line, why));
                continue;
            }
        };
        let result = check::check_text(&name, &text, &config, &cluster);
        records.extend(result.records);
        match (source, result.fixed_text) {
            (Source::Stdin, fixed) if args.fix => fixed_stdin = Some(fixed.unwrap_or(text)),
            (Source::File(path), Some(fixed)) => {
                std::fs::write(path, fixed)
                    .with_context(|| format!("cannot write the fix to {}", path.display()))?;
            }
            _ => {}
        }
    }

    let summary = Summary::of(&records);
    let mut report = match args.format {
        Format::Text => {
            let colour = std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none()
                && fixed_stdin.is_none();
            let mut s = report::text(&records, colour, args.verbose);
            s.push_str(&summary.line());
            s.push('\n');
            s
        }
        Format::Json => report::json(&records),
        Format::Sarif => report::sarif(&records),
        Format::Github => {
            let mut s = report::github(&records);
            s.push_str(&summary.line());
            s.push('\n');
            s
        }
    };
    if let Some(fixed) = fixed_stdin {
        // The fixed stream is the output; the report goes to standard error.
        print_to(&mut std::io::stdout(), &fixed)?;
        print_to(&mut std::io::stderr(), &report)?;
    } else {
        if args.format == Format::Text && summary.objects == 0 {
            report.insert_str(0, "no objects found\n");
        }
        print_to(&mut std::io::stdout(), &report)?;
    }
    Ok(exit_code(&summary, args.fail_on_change))
}

fn print_to(out: &mut dyn Write, s: &str) -> Result<()> {
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        // `… | head` closing the pipe is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn error_record(file: &str, line: usize, why: String) -> Record {
    Record::error(file, line, why)
}

pub fn exit_code(summary: &Summary, fail_on_change: bool) -> i32 {
    if summary.errors > 0 {
        2
    } else if summary.rejected > 0 || (fail_on_change && summary.would_change > 0) {
        1
    } else {
        0
    }
}
