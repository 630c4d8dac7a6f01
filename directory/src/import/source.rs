//! Where a roster comes from: a directory of CSV files or a zip of them, copied (a zip
//! unpacked, streaming) into a private temporary folder first, so that every file can be read
//! twice (validate, then apply) without holding it in memory, and both reads see the same bytes
//! even if the export is still being written.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::report::Problem;

/// A OneRoster file set, in our private folder.
pub struct Source {
    /// The private copy of the files, removed on drop.
    dir: PathBuf,
}

impl Source {
    /// Opens `path`: a directory, or a zip archive with the files at its root or in one folder.
    pub fn open(path: &Path) -> Result<Self, Problem> {
        let source = Source::private()?;
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| {
                Problem::general(format!("cannot read the folder {}: {e}", path.display()))
            })?;
            for entry in entries.filter_map(std::result::Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if is_csv(&name) && entry.path().is_file() {
                    source
                        .copy_in(&entry.path(), &name)
                        .map_err(|e| Problem::general(format!("cannot read {name}: {e}")))?;
                }
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
        for index in 0..archive.len() {
            let mut entry = archive
                .by_index(index)
                .map_err(|e| Problem::general(format!("{} is damaged: {e}", path.display())))?;
            let Some(name) = entry
                .enclosed_name()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            else {
                continue;
            };
            if entry.is_dir() || !is_csv(&name) {
                continue;
            }
            let mut out = private_file(&source.dir.join(&name))
                .map_err(|e| Problem::general(format!("cannot unpack {name}: {e}")))?;
            std::io::copy(&mut entry, &mut out).map_err(|e| {
                Problem::general(format!("cannot unpack {name} from {}: {e}", path.display()))
            })?;
        }
        Ok(source)
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
        Ok(Source { dir })
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

    /// SHA-256 of a file's bytes, hex-encoded.
    pub fn checksum(&self, stored_name: &str) -> Result<String, Problem> {
        let mut reader = self.reader(stored_name)?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut reader, &mut HashWriter(&mut hasher))
            .map_err(|e| Problem::in_file(stored_name, format!("cannot read the file: {e}")))?;
        Ok(hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
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

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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
        let source = Source::open(&export).unwrap();
        let dir = source.dir.clone();
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("users.csv")), 0o600);
        drop(source);
        assert!(!dir.exists(), "removed when dropped");

        let kept = Source::open(&export).unwrap();
        let dir = kept.dir.clone();
        super::remove_temporary_folders();
        assert!(!dir.exists(), "removed on a signal's clean-up too");
        drop(kept);
        std::fs::remove_dir_all(export).unwrap();
    }
}
