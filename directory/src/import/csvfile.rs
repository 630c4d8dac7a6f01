//! Reading one CSV file as exported by school-affairs systems: UTF-8 with or without BOM, or
//! Shift_JIS (CP932); CRLF or LF; quoted fields with commas and newlines.

use std::io::Read;

use encoding_rs::{Encoding, SHIFT_JIS, UTF_8};
use encoding_rs_io::DecodeReaderBytesBuilder;

use super::report::Problem;
use super::source::Source;

/// How to decode the files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EncodingChoice {
    /// UTF-8 (with or without BOM) unless the start of the file is not valid UTF-8, then
    /// Shift_JIS (CP932).
    #[default]
    Auto,
    /// UTF-8, with or without BOM.
    Utf8,
    /// Shift_JIS as written by Windows (CP932).
    ShiftJis,
}

impl EncodingChoice {
    /// Parses `auto`, `utf-8` / `utf8`, `shift_jis` / `sjis` / `cp932`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().replace('-', "_").as_str() {
            "auto" => Some(Self::Auto),
            "utf_8" | "utf8" => Some(Self::Utf8),
            "shift_jis" | "sjis" | "cp932" | "windows_31j" => Some(Self::ShiftJis),
            _ => None,
        }
    }
}

/// A CSV file being read row by row.
pub struct CsvFile {
    /// Name of the file (for problems).
    pub name: String,
    /// Header names, trimmed.
    pub headers: Vec<String>,
    reader: csv::Reader<Box<dyn Read + Send>>,
    record: csv::StringRecord,
    /// Encoding actually used.
    pub encoding: &'static Encoding,
    /// The file could not be read further (a row over [`ROW_MAX_BYTES`]): no more rows.
    stopped: bool,
}

/// One row: its line number and fields.
pub struct Row<'a> {
    /// 1-based line where the row starts (the header is line 1).
    pub line: u64,
    /// Fields, as many as the header has.
    pub fields: &'a csv::StringRecord,
}

impl CsvFile {
    /// Opens `stored_name` in `source`.
    pub fn open(
        source: &Source,
        stored_name: &str,
        choice: EncodingChoice,
    ) -> Result<Self, Problem> {
        let encoding = match choice {
            EncodingChoice::Utf8 => UTF_8,
            EncodingChoice::ShiftJis => SHIFT_JIS,
            EncodingChoice::Auto => sniff(source.reader(stored_name)?),
        };
        let decoded: Box<dyn Read + Send> = Box::new(RowBound::new(CrlfToLf::new(
            DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .bom_override(true)
                .build(source.reader(stored_name)?),
        )));
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(decoded);
        let headers = reader
            .headers()
            .map_err(|e| {
                Problem::in_file(stored_name, format!("cannot read the header line: {e}"))
            })?
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_owned())
            .collect();
        Ok(Self {
            name: stored_name.to_owned(),
            headers,
            reader,
            record: csv::StringRecord::new(),
            encoding,
            stopped: false,
        })
    }

    /// The next row, or `None` at the end. A row with the wrong number of fields, or with
    /// bytes that are not valid in the file's encoding, is a problem.
    pub fn next_row(&mut self) -> Option<Result<Row<'_>, Problem>> {
        if self.stopped {
            return None;
        }
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                // The reader cannot go on (a row too long to hold): one problem, then the end.
                self.stopped = true;
                Some(Err(match e.position() {
                    Some(position) => Problem::at(&self.name, position.line(), None, e.to_string()),
                    None => Problem::in_file(&self.name, e.to_string()),
                }))
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                Some(Err(Problem::at(
                    &self.name,
                    line,
                    None,
                    format!("unreadable CSV row: {e}"),
                )))
            }
            Ok(true) => {
                let line = self.record.position().map(|p| p.line()).unwrap_or(0);
                if self.record.len() != self.headers.len() {
                    return Some(Err(Problem::at(
                        &self.name,
                        line,
                        None,
                        format!(
                            "the row has {} fields but the header has {}; check for a missing or extra comma, or an unclosed quote",
                            self.record.len(),
                            self.headers.len()
                        ),
                    )));
                }
                if self.record.iter().any(|field| field.contains('\u{fffd}')) {
                    let hint = if self.encoding == UTF_8 {
                        "the file is not valid UTF-8; if it is Shift_JIS, import with --encoding shift_jis"
                    } else {
                        "the file is not valid Shift_JIS; if it is UTF-8, import with --encoding utf-8"
                    };
                    return Some(Err(Problem::at(&self.name, line, None, hint)));
                }
                Some(Ok(Row {
                    line,
                    fields: &self.record,
                }))
            }
        }
    }
}

/// Longest row read, in bytes once decoded: a real row is a few hundred bytes (a value may be
/// 4 KiB, a list 64 KiB); a longer one is refused where it starts, before it is held in memory.
pub const ROW_MAX_BYTES: usize = 1 << 20;

/// Ends the stream with an error at the first row longer than [`ROW_MAX_BYTES`] (quotes
/// followed, so a quoted line break does not end a row), so that no field, however long,
/// is held whole in memory.
struct RowBound<R> {
    inner: R,
    quoted: bool,
    row_bytes: usize,
    /// 1-based line the current row starts on.
    row_line: u64,
    line: u64,
    exceeded: bool,
}

impl<R: Read> RowBound<R> {
    fn new(inner: R) -> Self {
        RowBound {
            inner,
            quoted: false,
            row_bytes: 0,
            row_line: 1,
            line: 1,
            exceeded: false,
        }
    }

    fn too_long(&self) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "the row that starts on line {} is longer than {} bytes, the most a roster row may be; check for an unclosed quote or a value that does not belong there",
                self.row_line, ROW_MAX_BYTES
            ),
        )
    }
}

impl<R: Read> Read for RowBound<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.exceeded {
            return Err(self.too_long());
        }
        let n = self.inner.read(buf)?;
        for &byte in &buf[..n] {
            match byte {
                b'"' => self.quoted = !self.quoted,
                b'\n' => {
                    self.line += 1;
                    if !self.quoted {
                        self.row_bytes = 0;
                        self.row_line = self.line;
                        continue;
                    }
                }
                _ => {}
            }
            self.row_bytes += 1;
            if self.row_bytes > ROW_MAX_BYTES {
                self.exceeded = true;
                return Err(self.too_long());
            }
        }
        Ok(n)
    }
}

/// UTF-8 if the file starts with a UTF-8 BOM or its first 64 KiB are valid UTF-8 (a
/// character cut at the end is allowed); otherwise Shift_JIS.
fn sniff(mut reader: Box<dyn Read + Send>) -> &'static Encoding {
    let mut buffer = vec![0u8; 1 << 16];
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    let head = &buffer[..filled];
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return UTF_8;
    }
    match std::str::from_utf8(head) {
        Ok(_) => UTF_8,
        Err(e) if e.error_len().is_none() => UTF_8,
        Err(_) => SHIFT_JIS,
    }
}

/// Turns CRLF (and lone CR) line ends into LF while streaming. The csv reader counts lines correctly only
/// for LF files, and a clerk needs the right line number; a CR inside a field is not allowed by
/// OneRoster anyway.
struct CrlfToLf<R> {
    inner: R,
    chunk: Vec<u8>,
    start: usize,
    end: usize,
    /// A CR that ended the previous chunk, not yet known to be followed by LF.
    held_cr: bool,
}

impl<R: Read> CrlfToLf<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            chunk: vec![0; 1 << 16],
            start: 0,
            end: 0,
            held_cr: false,
        }
    }

    /// Reads the next chunk and removes every CR that precedes an LF.
    fn refill(&mut self) -> std::io::Result<()> {
        loop {
            let offset = usize::from(self.held_cr);
            if self.held_cr {
                self.chunk[0] = b'\r';
            }
            let n = self.inner.read(&mut self.chunk[offset..])?;
            if n == 0 {
                // A CR at the very end of the file is a line end.
                if self.held_cr {
                    self.chunk[0] = b'\n';
                }
                self.held_cr = false;
                (self.start, self.end) = (0, offset);
                return Ok(());
            }
            let total = offset + n;
            let mut write = 0;
            self.held_cr = false;
            for read in 0..total {
                let byte = self.chunk[read];
                if byte == b'\r' {
                    if read + 1 == total {
                        // Whether it ends a CRLF is known only with the next chunk.
                        self.held_cr = true;
                        continue;
                    }
                    if self.chunk[read + 1] == b'\n' {
                        continue;
                    }
                    // A lone CR (old Macintosh line ends) is a line end too.
                    self.chunk[write] = b'\n';
                } else {
                    self.chunk[write] = byte;
                }
                write += 1;
            }
            if write > 0 {
                (self.start, self.end) = (0, write);
                return Ok(());
            }
        }
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.start == self.end {
            self.refill()?;
        }
        let n = (self.end - self.start).min(buf.len());
        buf[..n].copy_from_slice(&self.chunk[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_becomes_lf_across_chunk_boundaries() {
        struct Chunks(Vec<&'static [u8]>);
        impl Read for Chunks {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() {
                    return Ok(0);
                }
                let chunk = self.0[0];
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                if n == chunk.len() {
                    self.0.remove(0);
                } else {
                    self.0[0] = &chunk[n..];
                }
                Ok(n)
            }
        }
        let mut out = String::new();
        CrlfToLf::new(Chunks(vec![b"a,b\r", b"\n1,2\r\n", b"x\ry\r"]))
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "a,b\n1,2\nx\ny\n", "CRLF and lone CR both end lines");
    }

    #[test]
    fn encodings_parse() {
        assert_eq!(
            EncodingChoice::parse("Shift-JIS"),
            Some(EncodingChoice::ShiftJis)
        );
        assert_eq!(
            EncodingChoice::parse("cp932"),
            Some(EncodingChoice::ShiftJis)
        );
        assert_eq!(EncodingChoice::parse("UTF-8"), Some(EncodingChoice::Utf8));
        assert_eq!(EncodingChoice::parse("latin1"), None);
    }
}
