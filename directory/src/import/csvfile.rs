//! Reading one CSV file as exported by school-affairs systems: UTF-8 with or without BOM, or
//! Shift_JIS (CP932); CRLF or LF; quoted fields with commas and newlines.

use std::io::Read;

use encoding_rs::{Encoding, SHIFT_JIS, UTF_8};
use encoding_rs_io::DecodeReaderBytesBuilder;

use sha2::{Digest, Sha256};

use super::report::Problem;
use super::source::Source;

/// How to decode a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EncodingChoice {
    /// UTF-8 (with or without BOM) if the whole file is valid UTF-8, otherwise Shift_JIS
    /// (CP932).
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

/// How each file of a set is decoded: one choice for every file, and choices for named files
/// (`users.csv=shift_jis`), since one export can mix a Shift_JIS file with UTF-8 ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encodings {
    /// For files not named.
    pub default: EncodingChoice,
    /// Per file name (lower case).
    pub files: std::collections::BTreeMap<String, EncodingChoice>,
}

impl Encodings {
    /// The same choice for every file.
    pub fn all(choice: EncodingChoice) -> Self {
        Self {
            default: choice,
            files: Default::default(),
        }
    }

    /// Parses `--encoding` values: `auto`, `utf-8`, `shift_jis` for every file, or
    /// `FILE=ENCODING` for one file; a later value for the same file wins.
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Self, String> {
        let mut encodings = Self::default();
        for value in values {
            let value = value.as_ref().trim();
            let (file, name) = match value.split_once('=') {
                Some((file, name)) => (Some(file.trim()), name.trim()),
                None => (None, value),
            };
            let choice = EncodingChoice::parse(name).ok_or_else(|| {
                format!("--encoding {value:?}: unknown encoding {name:?}; use auto, utf-8 or shift_jis, for every file or as FILE=ENCODING (users.csv=shift_jis)")
            })?;
            match file {
                None => encodings.default = choice,
                Some(file) if file.is_empty() || file.contains(['/', '\\']) => {
                    return Err(format!(
                        "--encoding {value:?}: name the file as it is called in the export, e.g. users.csv=shift_jis"
                    ));
                }
                Some(file) => {
                    encodings.files.insert(file.to_ascii_lowercase(), choice);
                }
            }
        }
        Ok(encodings)
    }

    /// The choice for one file.
    pub fn for_file(&self, name: &str) -> EncodingChoice {
        self.files
            .get(&name.to_ascii_lowercase())
            .copied()
            .unwrap_or(self.default)
    }
}

/// How one file is decoded, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoding {
    /// The encoding.
    pub encoding: &'static Encoding,
    /// Why this encoding.
    pub reason: Reason,
}

/// Why a file is decoded as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The operator named the encoding.
    Named,
    /// The file starts with a UTF-8 byte-order mark.
    ByteOrderMark,
    /// Every byte of the file is UTF-8.
    AllUtf8,
    /// This line is not UTF-8, so the file is read as Shift_JIS.
    NotUtf8At(u64),
}

impl Decoding {
    /// The encoding's name as people know it (`UTF-8`, `Shift_JIS`).
    pub fn name(&self) -> &'static str {
        self.encoding.name()
    }

    /// Reads a whole file once: its SHA-256, and how it is to be decoded (for `Auto`, UTF-8 if
    /// every byte of it is, so that a Shift_JIS file whose first rows are ASCII is still found).
    /// A UTF-8 byte-order mark decides for UTF-8 whatever the choice (the decoder follows it);
    /// a UTF-16 one is refused.
    pub fn inspect(
        source: &Source,
        stored_name: &str,
        choice: EncodingChoice,
    ) -> Result<(String, Self), Problem> {
        let mut reader = source.reader(stored_name)?;
        let mut hasher = Sha256::new();
        let mut utf8 = Utf8Scan::default();
        let mut buffer = vec![0u8; 1 << 16];
        let mut start = Vec::with_capacity(3);
        loop {
            let n = reader
                .read(&mut buffer)
                .map_err(|e| Problem::in_file(stored_name, format!("cannot read the file: {e}")))?;
            if n == 0 {
                break;
            }
            let chunk = &buffer[..n];
            hasher.update(chunk);
            if start.len() < 3 {
                let wanted = (3 - start.len()).min(n);
                start.extend_from_slice(&chunk[..wanted]);
            }
            if choice == EncodingChoice::Auto {
                utf8.feed(chunk);
            }
        }
        if start.starts_with(&[0xFF, 0xFE]) || start.starts_with(&[0xFE, 0xFF]) {
            return Err(Problem::in_file(
                stored_name,
                "the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8 (or Shift_JIS) and import again",
            ));
        }
        let checksum = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let (encoding, reason) = if start.starts_with(&[0xEF, 0xBB, 0xBF]) {
            (UTF_8, Reason::ByteOrderMark)
        } else {
            match choice {
                EncodingChoice::Utf8 => (UTF_8, Reason::Named),
                EncodingChoice::ShiftJis => (SHIFT_JIS, Reason::Named),
                EncodingChoice::Auto => match utf8.finish() {
                    None => (UTF_8, Reason::AllUtf8),
                    Some(offset) => {
                        let line = line_of(source.reader(stored_name)?, offset).map_err(|e| {
                            Problem::in_file(stored_name, format!("cannot read the file: {e}"))
                        })?;
                        (SHIFT_JIS, Reason::NotUtf8At(line))
                    }
                },
            }
        };
        Ok((checksum, Decoding { encoding, reason }))
    }
}

/// Streaming UTF-8 check that remembers where the first byte that is not UTF-8 is (its line
/// is counted only then, by [`line_of`], so that a valid file costs nothing more).
#[derive(Default)]
struct Utf8Scan {
    /// Bytes of a character cut at the end of the previous chunk.
    carry: Vec<u8>,
    /// Bytes consumed before `carry`.
    offset: u64,
    /// Offset of the first invalid byte.
    invalid_at: Option<u64>,
}

impl Utf8Scan {
    fn feed(&mut self, chunk: &[u8]) {
        if self.invalid_at.is_some() {
            return;
        }
        let joined;
        let data = if self.carry.is_empty() {
            chunk
        } else {
            joined = [std::mem::take(&mut self.carry).as_slice(), chunk].concat();
            &joined
        };
        match std::str::from_utf8(data) {
            Ok(_) => self.offset += data.len() as u64,
            Err(e) => {
                let valid = e.valid_up_to();
                if e.error_len().is_none() {
                    self.offset += valid as u64;
                    self.carry = data[valid..].to_vec();
                } else {
                    self.invalid_at = Some(self.offset + valid as u64);
                }
            }
        }
    }

    /// `None` if every byte was UTF-8; otherwise the offset of the first that was not.
    fn finish(self) -> Option<u64> {
        self.invalid_at
            .or_else(|| (!self.carry.is_empty()).then_some(self.offset))
    }
}

/// The 1-based line of the byte at `offset`, counting line ends as the reader does (LF, CRLF
/// and a lone CR each end one).
fn line_of(mut reader: impl Read, offset: u64) -> std::io::Result<u64> {
    let mut line = 1;
    let mut after_cr = false;
    let mut left = offset;
    let mut buffer = vec![0u8; 1 << 16];
    while left > 0 {
        let n = reader.read(&mut buffer[..(left.min(1 << 16)) as usize])?;
        if n == 0 {
            break;
        }
        for &byte in &buffer[..n] {
            match byte {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => line += 1,
                _ => {}
            }
            after_cr = byte == b'\r';
        }
        left -= n as u64;
    }
    Ok(line)
}

/// A CSV file being read row by row.
pub struct CsvFile {
    /// Name of the file (for problems).
    pub name: String,
    /// Header names, trimmed.
    pub headers: Vec<String>,
    reader: csv::Reader<Box<dyn Read + Send>>,
    record: csv::StringRecord,
    /// How the file is decoded.
    pub decoding: Decoding,
    /// The file could not be read further (a row over [`ROW_MAX_BYTES`]): no more rows.
    stopped: bool,
}

/// One row: its line number and fields.
pub struct Row<'a> {
    /// 1-based line where the row starts (the header is line 1).
    pub line: u64,
    /// Fields, as many as the header has.
    pub fields: &'a csv::StringRecord,
    /// The row holds bytes the file's encoding cannot decode: a problem, though its fields
    /// (and usually its sourcedId) can still be read, so that other files' references to it
    /// are not reported as well.
    pub undecodable: Option<Problem>,
}

impl CsvFile {
    /// Opens `stored_name` in `source`, settling its encoding first (which reads it whole
    /// when the choice is `Auto`).
    pub fn open(
        source: &Source,
        stored_name: &str,
        choice: EncodingChoice,
    ) -> Result<Self, Problem> {
        let (_, decoding) = Decoding::inspect(source, stored_name, choice)?;
        Self::open_decoded(source, stored_name, decoding)
    }

    /// Opens `stored_name` in `source`, decoded as already settled.
    pub fn open_decoded(
        source: &Source,
        stored_name: &str,
        decoding: Decoding,
    ) -> Result<Self, Problem> {
        let encoding = decoding.encoding;
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
            decoding,
            stopped: false,
        })
    }

    /// The next row, or `None` at the end. A row with the wrong number of fields is a problem;
    /// a row with bytes that are not valid in the file's encoding comes with one
    /// ([`Row::undecodable`]).
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
                let undecodable = self
                    .record
                    .iter()
                    .any(|field| field.contains('\u{fffd}'))
                    .then(|| Problem::at(&self.name, line, None, self.undecodable()));
                Some(Ok(Row {
                    line,
                    fields: &self.record,
                    undecodable,
                }))
            }
        }
    }
}

impl CsvFile {
    /// Why a row holds bytes its encoding cannot decode (or, in a file that is all UTF-8, the
    /// replacement character that an earlier conversion left), and what to do.
    fn undecodable(&self) -> String {
        let file = &self.name;
        match (self.decoding.encoding == UTF_8, self.decoding.reason) {
            (_, Reason::NotUtf8At(not_utf8)) => format!(
                "this row is neither UTF-8 nor Shift_JIS ({file} is read as Shift_JIS because line {not_utf8} is not UTF-8); correct the bytes, or name the file's encoding with --encoding {file}=utf-8 or {file}=shift_jis"
            ),
            (true, Reason::AllUtf8) => "this row holds U+FFFD (�), the mark of characters lost when the file was converted earlier; correct them in the school-affairs system and export again".to_owned(),
            (true, _) => format!(
                "this row is not valid UTF-8; if {file} is Shift_JIS, import with --encoding {file}=shift_jis"
            ),
            (false, _) => format!(
                "this row is not valid Shift_JIS; if {file} is UTF-8, import with --encoding {file}=utf-8"
            ),
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
    fn utf8_is_checked_across_chunks_and_lines_counted_as_the_reader_counts_them() {
        let text = "a,b\r\nあ,い\rう\n".as_bytes();
        for cut in 0..text.len() {
            let mut scan = Utf8Scan::default();
            scan.feed(&text[..cut]);
            scan.feed(&text[cut..]);
            assert_eq!(
                scan.finish(),
                None,
                "a character cut at {cut} is still UTF-8"
            );
        }
        let bad = b"a\r\nb\rc\n\x82\xa0";
        for cut in 0..bad.len() {
            let mut scan = Utf8Scan::default();
            scan.feed(&bad[..cut]);
            scan.feed(&bad[cut..]);
            assert_eq!(scan.finish(), Some(7), "cut at {cut}");
        }
        assert_eq!(
            line_of(&bad[..], 7).unwrap(),
            4,
            "CRLF, CR and LF each end a line"
        );
        let mut scan = Utf8Scan::default();
        scan.feed("xあ".as_bytes().split_last().unwrap().1);
        assert_eq!(
            scan.finish(),
            Some(1),
            "a character cut by the end of the file"
        );
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
