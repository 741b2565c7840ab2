//! What to read: files, directories walked for `*.yaml`, `*.yml`, `*.json` (hidden
//! directories skipped, symlink loops reported), and `-` for standard input.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest input read (memory stays bounded; a bigger file is a located error).
pub const MAX_INPUT_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    pub fn display(&self) -> String {
        match self {
            Source::Stdin => "-".into(),
            Source::File(p) => p.to_string_lossy().replace('\\', "/"),
        }
    }
}

/// The inputs under `args`, in a stable order, and the paths that could not be walked
/// (path, reason).
pub fn collect(args: &[String]) -> (Vec<Source>, Vec<(String, String)>) {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    let mut seen_files = BTreeSet::new();
    let mut seen_dirs = BTreeSet::new();
    for arg in args {
        if arg == "-" {
            if !sources.contains(&Source::Stdin) {
                sources.push(Source::Stdin);
            }
            continue;
        }
        let path = Path::new(arg);
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => walk(
                path,
                &mut Vec::new(),
                &mut seen_dirs,
                &mut seen_files,
                &mut sources,
                &mut errors,
            ),
            Ok(_) => {
                if seen_files.insert(canonical(path)) {
                    sources.push(Source::File(path.to_path_buf()));
                }
            }
            Err(e) => errors.push((arg.clone(), describe(&e))),
        }
    }
    (sources, errors)
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn describe(e: &std::io::Error) -> String {
    if e.raw_os_error() == Some(40) {
        "a symlink loop (too many levels of symbolic links)".into()
    } else {
        e.to_string()
    }
}

fn walk(
    dir: &Path,
    ancestors: &mut Vec<PathBuf>,
    seen_dirs: &mut BTreeSet<PathBuf>,
    seen_files: &mut BTreeSet<PathBuf>,
    sources: &mut Vec<Source>,
    errors: &mut Vec<(String, String)>,
) {
    let real = canonical(dir);
    if let Some(first) = ancestors.iter().find(|a| **a == real) {
        errors.push((
            dir.to_string_lossy().into_owned(),
            format!("a symlink loop: it leads back to {}", first.display()),
        ));
        return;
    }
    if !seen_dirs.insert(real.clone()) {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push((dir.to_string_lossy().into_owned(), describe(&e)));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    ancestors.push(real);
    for path in paths {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, ancestors, seen_dirs, seen_files, sources, errors),
            Ok(_) => {
                let wanted = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
                if wanted && seen_files.insert(canonical(&path)) {
                    sources.push(Source::File(path));
                }
            }
            Err(e) => errors.push((path.to_string_lossy().into_owned(), describe(&e))),
        }
    }
    ancestors.pop();
}

/// The text of `source`, or why it cannot be read (with the line of a non-UTF-8 byte).
pub fn read(source: &Source, stdin: &mut Option<String>) -> Result<String, (usize, String)> {
    let bytes = match source {
        Source::Stdin => {
            if let Some(text) = stdin {
                return Ok(text.clone());
            }
            let mut buf = Vec::new();
            std::io::stdin()
                .take(MAX_INPUT_BYTES + 1)
                .read_to_end(&mut buf)
                .map_err(|e| (0, format!("cannot read standard input: {e}")))?;
            buf
        }
        Source::File(path) => {
            let mut file = std::fs::File::open(path).map_err(|e| (0, describe(&e)))?;
            let mut buf = Vec::new();
            file.by_ref()
                .take(MAX_INPUT_BYTES + 1)
                .read_to_end(&mut buf)
                .map_err(|e| (0, describe(&e)))?;
            buf
        }
    };
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err((0, format!("larger than {} MiB", MAX_INPUT_BYTES >> 20)));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count();
        (line, format!("not UTF-8 (an invalid byte at offset {at})"))
    })?;
    if matches!(source, Source::Stdin) {
        *stdin = Some(text.clone());
    }
    Ok(text)
}
