//! Where a roster comes from: a directory of CSV files or a zip of them, copied (a zip
//! unpacked, streaming) into a private temporary folder first, so that every file can be read
//! twice (validate, then apply) without holding it in memory, and both reads see the same bytes
//! even if the export is still being written.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::report::Problem;

/// How much of a roster is copied or unpacked at most: limits a real board never reaches (a
/// board of a million pupils writes a users.csv of a few hundred MB) and a hostile archive
/// always does. A file that grows past its limit while unpacking is refused at that point,
/// whatever the archive's headers claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest file, in bytes (default 1 GiB).
    pub file_bytes: u64,
    /// Largest roster, all its files together, in bytes (default 3 GiB).
    pub total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            file_bytes: 1 << 30,
            total_bytes: 3 << 30,
        }
    }
}

/// A OneRoster file set, in our private folder.
pub struct Source {
    /// The private copy of the files, removed on drop.
    dir: PathBuf,
    /// The archive's folder the files were read from (`export/`; empty for the root), when the
    /// roster came as a zip.
    pub folder: Option<String>,
    /// CSV files of the export that the import does not read (not copied), by their names in
    /// the export.
    pub unused: Vec<String>,
}

/// Whether the import reads a file of this name: the manifest and the OneRoster files.
fn is_read(name: &str) -> bool {
    name.eq_ignore_ascii_case("manifest.csv")
        || super::schema::FileKind::ALL
            .iter()
            .any(|kind| name.eq_ignore_ascii_case(&format!("{}.csv", kind.base_name())))
}

impl Source {
    /// Opens `path`: a directory, or a zip archive with the files at its root or in one folder.
    /// Only the files the import reads are copied, within `limits`; an archive that holds a file twice (in two folders, or in two
    /// spellings) or the export's files in more than one folder is refused, naming the entries.
    pub fn open(path: &Path, limits: Limits) -> Result<Self, Problem> {
        let mut source = Source::private()?;
        let mut total = 0;
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| {
                Problem::general(format!("cannot read the folder {}: {e}", path.display()))
            })?;
            let mut names: Vec<(String, PathBuf)> = entries
                .filter_map(std::result::Result::ok)
                .filter(|entry| entry.path().is_file())
                .map(|entry| {
                    (
                        entry.file_name().to_string_lossy().into_owned(),
                        entry.path(),
                    )
                })
                .filter(|(name, _)| is_csv(name))
                .collect();
            names.sort();
            refuse_twins(
                "folder",
                names.iter().map(|(name, _)| (name.as_str(), name.as_str())),
            )?;
            for (name, from) in names {
                if !is_read(&name) {
                    source.unused.push(name);
                    continue;
                }
                let file = File::open(&from)
                    .map_err(|e| Problem::general(format!("cannot read {name}: {e}")))?;
                total += source.take_in(file, &name, total, limits)?;
            }
            return Ok(source);
        }
        let file = File::open(path).map_err(|e| {
            Problem::general(format!(
                "cannot open {}: {e}; give a folder or a .zip of OneRoster CSV files",
                path.display()
            ))
        })?;
        let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| {
            Problem::general(format!(
                "{} is neither a folder nor a readable zip file: {e}",
                path.display()
            ))
        })?;
        let damaged = |e: zip::result::ZipError| {
            Problem::general(format!("{} is damaged: {e}", path.display()))
        };
        // Every CSV entry, by its path in the archive, before anything is unpacked.
        let mut csvs: Vec<(usize, String, String, String)> = Vec::new();
        for index in 0..archive.len() {
            let entry = archive.by_index_raw(index).map_err(damaged)?;
            let Some(enclosed) = entry.enclosed_name() else {
                continue;
            };
            let Some(name) = enclosed
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
            else {
                continue;
            };
            if entry.is_dir() || !is_csv(&name) {
                continue;
            }
            let folder = enclosed
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            csvs.push((index, enclosed.to_string_lossy().into_owned(), folder, name));
        }
        refuse_twins(
            "archive",
            csvs.iter()
                .map(|(_, path, _, name)| (path.as_str(), name.as_str())),
        )?;
        let read: Vec<&(usize, String, String, String)> = csvs
            .iter()
            .filter(|(_, _, _, name)| is_read(name))
            .collect();
        let mut folders: Vec<&str> = read
            .iter()
            .map(|(_, _, folder, _)| folder.as_str())
            .collect();
        folders.sort_unstable();
        folders.dedup();
        if folders.len() > 1 {
            let shown: Vec<String> = folders.iter().map(|f| shown_folder(f)).collect();
            return Err(Problem::general(format!(
                "{} holds OneRoster files in more than one folder ({}); put one export's files in one folder and import that",
                path.display(),
                shown.join(", ")
            )));
        }
        source.folder = folders.first().map(|folder| shown_folder(folder));
        for (index, entry_path, _, name) in &csvs {
            if !is_read(name) {
                source.unused.push(entry_path.clone());
                continue;
            }
            let entry = archive.by_index(*index).map_err(damaged)?;
            total += source.take_in(entry, name, total, limits)?;
        }
        Ok(source)
    }

    /// Copies at most `limits.file_bytes` of `from` into the folder as `name` (and at most
    /// what is left of `limits.total_bytes` after `before` bytes); returns the bytes copied.
    fn take_in(
        &self,
        from: impl Read,
        name: &str,
        before: u64,
        limits: Limits,
    ) -> Result<u64, Problem> {
        let mut out = private_file(&self.dir.join(name))
            .map_err(|e| Problem::general(format!("cannot copy {name}: {e}")))?;
        let allowed = limits
            .file_bytes
            .min(limits.total_bytes.saturating_sub(before));
        let copied = std::io::copy(&mut from.take(allowed + 1), &mut out)
            .map_err(|e| Problem::in_file(name, format!("cannot read the file: {e}")))?;
        if copied > allowed {
            let _ = std::fs::remove_file(self.dir.join(name));
            return Err(if allowed == limits.file_bytes {
                Problem::in_file(
                    name,
                    format!(
                        "the file is larger than {} bytes, the most one roster file may be; check what the export holds",
                        limits.file_bytes
                    ),
                )
            } else {
                Problem::general(format!(
                    "the roster's files together are larger than {} bytes, the most an import reads",
                    limits.total_bytes
                ))
            });
        }
        Ok(copied)
    }

    /// Opens one file (a school-affairs CSV or JSON-lines file); returns it with its name.
    pub fn file(path: &Path) -> Result<(Self, String), Problem> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Problem::general(format!("{} is not a file", path.display())))?;
        let source = Source::private()?;
        source
            .copy_in(path, &name)
            .map_err(|e| Problem::general(format!("cannot read {}: {e}", path.display())))?;
        Ok((source, name))
    }

    /// A new private temporary folder: readable by this user only (the files can hold the
    /// roster's `password` column in plain text), created fresh (never an existing folder),
    /// and listed for [`remove_temporary_folders`] until it is dropped.
    fn private() -> Result<Self, Problem> {
        let dir = std::env::temp_dir().join(format!(
            "renkei-import-{}",
            renkei_platform::crypto::random_id()
        ));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&dir)
            .map_err(|e| Problem::general(format!("cannot create a temporary folder: {e}")))?;
        live_folders().insert(dir.clone());
        Ok(Source {
            dir,
            folder: None,
            unused: Vec::new(),
        })
    }

    /// Copies a file into the folder as `name`, readable by this user only.
    fn copy_in(&self, from: &Path, name: &str) -> std::io::Result<u64> {
        let mut out = private_file(&self.dir.join(name))?;
        std::io::copy(&mut File::open(from)?, &mut out)
    }

    /// Finds a file by its OneRoster name (`users.csv`), ignoring case. Returns the name as
    /// stored.
    pub fn find(&self, name: &str) -> Option<String> {
        std::fs::read_dir(&self.dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .find(|file| file.eq_ignore_ascii_case(name))
    }

    /// Opens a file for streaming.
    pub fn reader(&self, stored_name: &str) -> Result<Box<dyn Read + Send>, Problem> {
        let file = File::open(self.dir.join(stored_name))
            .map_err(|e| Problem::in_file(stored_name, format!("cannot read the file: {e}")))?;
        Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
    }
}

/// Creates a file readable and writable by this user only (it must not exist yet).
fn private_file(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// The temporary folders of this process's imports that still exist.
fn live_folders() -> std::sync::MutexGuard<'static, std::collections::BTreeSet<PathBuf>> {
    static LIVE: std::sync::Mutex<std::collections::BTreeSet<PathBuf>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes every temporary folder this process's imports still hold: for a process that is
/// about to exit on a signal (SIGINT, SIGTERM), where the imports' own clean-up cannot run.
pub fn remove_temporary_folders() {
    for dir in std::mem::take(&mut *live_folders()) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Refuses an export that holds a file name more than once (in two folders of an archive, or
/// in two spellings), naming the entries (`holder`: "folder" or "archive"; each entry as its
/// path and its file name): one of them would silently win.
fn refuse_twins<'a>(
    holder: &str,
    entries: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<(), Problem> {
    let mut by_name: std::collections::BTreeMap<String, Vec<&str>> =
        std::collections::BTreeMap::new();
    for (path, name) in entries {
        by_name
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(path);
    }
    match by_name.into_iter().find(|(_, paths)| paths.len() > 1) {
        Some((name, mut paths)) => {
            paths.sort_unstable();
            Err(Problem::general(format!(
                "the {holder} holds {name} more than once ({}); an export holds each file once, so keep one of them",
                paths.join(", ")
            )))
        }
        None => Ok(()),
    }
}

/// A folder of an archive as the report names it: `export/`, or `the archive's root`.
fn shown_folder(folder: &str) -> String {
    if folder.is_empty() {
        "the archive's root".to_owned()
    } else {
        format!("{folder}/")
    }
}

/// A CSV file name (macOS resource forks `._x.csv` are not).
fn is_csv(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".csv") && !name.starts_with("._")
}

impl Drop for Source {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        live_folders().remove(&self.dir);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::Source;

    #[test]
    fn copies_are_private_and_removed() {
        let export = std::env::temp_dir().join(format!(
            "renkei-export-{}",
            renkei_platform::crypto::random_id()
        ));
        std::fs::create_dir(&export).unwrap();
        std::fs::write(export.join("users.csv"), "sourcedId,password\ns1,secret\n").unwrap();
        let source = Source::open(&export, super::Limits::default()).unwrap();
        let dir = source.dir.clone();
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("users.csv")), 0o600);
        drop(source);
        assert!(!dir.exists(), "removed when dropped");

        let kept = Source::open(&export, super::Limits::default()).unwrap();
        let dir = kept.dir.clone();
        super::remove_temporary_folders();
        assert!(!dir.exists(), "removed on a signal's clean-up too");
        drop(kept);
        std::fs::remove_dir_all(export).unwrap();
    }
}
