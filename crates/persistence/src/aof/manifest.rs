//! The AOF manifest (`<appendfilename>.manifest` in `appenddirname`): one
//! line per file, `file <name> seq <n> type <b|h|i>`, the base first, then
//! history files, then incremental files in load order. Parsing follows
//! Redis 7.0's rules and error texts (comments, too-long lines, duplicate
//! bases, non-monotonic incr sequence numbers); names that need it are
//! quoted as `sdscatrepr` quotes them. Replacing the file on disk is atomic:
//! a temp file is written and fsynced, renamed over, and the directory
//! fsynced.

use std::io::{self, Write};
use std::path::Path;

use cinnabar_protocol::request::{quoted_repr, split_args};

/// Longest manifest line Redis reads.
const MAX_LINE: usize = 1024;
pub const MANIFEST_SUFFIX: &str = ".manifest";
pub const TEMP_PREFIX: &str = "temp-";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Base,
    History,
    Incr,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::History => 'h',
            FileKind::Incr => 'i',
        }
    }
}

/// The format of a base file, which its name's suffix tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseFormat {
    /// Commands (`aof-use-rdb-preamble no`).
    Aof,
    /// An RDB snapshot (`aof-use-rdb-preamble yes`).
    Rdb,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: i64,
    pub kind: FileKind,
}

/// The set of files that make up the AOF.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub history: Vec<AofFile>,
    pub incr: Vec<AofFile>,
    /// The last sequence numbers used, for the next names.
    pub base_seq: i64,
    pub incr_seq: i64,
}

/// Why a manifest could not be read: Redis's message, and the offending
/// line (number and trimmed text) when there is one.
#[derive(Debug, PartialEq, Eq)]
pub struct ManifestError {
    pub message: &'static str,
    pub line: Option<(usize, String)>,
}

pub fn manifest_name(aof_filename: &str) -> String {
    format!("{aof_filename}{MANIFEST_SUFFIX}")
}

pub fn temp_manifest_name(aof_filename: &str) -> String {
    format!("{TEMP_PREFIX}{aof_filename}{MANIFEST_SUFFIX}")
}

impl Manifest {
    /// Parses a manifest's text.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let mut manifest = Manifest::default();
        let mut max_incr_seq = 0;
        let mut line_number = 0;
        let mut rest = text;
        if rest.is_empty() {
            return Err(ManifestError { message: "Found an empty AOF manifest", line: None });
        }
        while !rest.is_empty() {
            let end = rest.iter().position(|&b| b == b'\n');
            let raw = &rest[..end.map_or(rest.len(), |e| e + 1).min(MAX_LINE).min(rest.len())];
            line_number += 1;
            let fail = |message| {
                let trimmed = String::from_utf8_lossy(trim(raw)).into_owned();
                Err(ManifestError { message, line: Some((line_number, trimmed)) })
            };
            // Comment lines are skipped before the length check, as Redis does.
            if raw.first() == Some(&b'#') {
                rest = &rest[raw.len()..];
                continue;
            }
            if !raw.contains(&b'\n') {
                return fail("The AOF manifest file contains too long line");
            }
            rest = &rest[raw.len()..];
            let line = trim(raw);
            if line.is_empty() {
                return fail("Invalid AOF manifest file format");
            }
            let file = match split_args(line) {
                Some(words) if words.len() >= 6 && words.len() % 2 == 0 => match parse_entry(&words) {
                    Ok(file) => file,
                    Err(message) => return fail(message),
                },
                _ => return fail("Invalid AOF manifest file format"),
            };
            match file.kind {
                FileKind::Base => {
                    if manifest.base.is_some() {
                        return fail("Found duplicate base file information");
                    }
                    manifest.base_seq = file.seq;
                    manifest.base = Some(file);
                }
                FileKind::History => manifest.history.push(file),
                FileKind::Incr => {
                    if file.seq <= max_incr_seq {
                        return fail("Found a non-monotonic sequence number");
                    }
                    max_incr_seq = file.seq;
                    manifest.incr_seq = file.seq;
                    manifest.incr.push(file);
                }
            }
        }
        Ok(manifest)
    }

    /// The manifest's text: base, history files, incr files.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for file in self.base.iter().chain(&self.history).chain(&self.incr) {
            let name =
                if needs_quoting(file.name.as_bytes()) { quoted_repr(file.name.as_bytes()) } else { file.name.clone() };
            out.push_str(&format!("file {} seq {} type {}\n", name, file.seq, file.kind.letter()));
        }
        out
    }

    /// True when there is nothing to load (no base, no incr file).
    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.incr.is_empty()
    }

    /// The base and incr files, in the order they are loaded.
    pub fn files_to_load(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(&self.incr)
    }

    /// Names a new base file (`<name>.<seq>.base.aof|rdb`), turning the
    /// previous base, if any, into the first history file.
    pub fn new_base(&mut self, aof_filename: &str, format: BaseFormat) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = FileKind::History;
            self.history.insert(0, old);
        }
        self.base_seq += 1;
        let suffix = match format {
            BaseFormat::Aof => "aof",
            BaseFormat::Rdb => "rdb",
        };
        let name = format!("{aof_filename}.{}.base.{suffix}", self.base_seq);
        self.base = Some(AofFile { name: name.clone(), seq: self.base_seq, kind: FileKind::Base });
        name
    }

    /// Names a new incr file (`<name>.<seq>.incr.aof`) and appends it.
    pub fn new_incr(&mut self, aof_filename: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{aof_filename}.{}.incr.aof", self.incr_seq);
        self.incr.push(AofFile { name: name.clone(), seq: self.incr_seq, kind: FileKind::Incr });
        name
    }

    /// The incr file new writes go to: the last one, or a new one.
    pub fn last_incr_or_new(&mut self, aof_filename: &str) -> String {
        match self.incr.last() {
            Some(file) => file.name.clone(),
            None => self.new_incr(aof_filename),
        }
    }

    /// After a rewrite: every incr file the new base covers becomes history.
    /// `keep_last` spares the last one, the file written since the rewrite
    /// started.
    pub fn retire_rewritten_incrs(&mut self, keep_last: bool) {
        let keep = usize::from(keep_last && !self.incr.is_empty());
        let retired: Vec<AofFile> = self.incr.drain(..self.incr.len() - keep).collect();
        for mut file in retired.into_iter().rev() {
            file.kind = FileKind::History;
            self.history.insert(0, file);
        }
    }

    /// Removes and returns the history files (to be deleted).
    pub fn take_history(&mut self) -> Vec<AofFile> {
        std::mem::take(&mut self.history)
    }

    /// Replaces `<dir>/<aof_filename>.manifest` atomically: writes and
    /// fsyncs a temp file, renames it over the manifest, fsyncs the directory.
    pub fn persist(&self, dir: &Path, aof_filename: &str) -> io::Result<()> {
        let temp = dir.join(temp_manifest_name(aof_filename));
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&temp)?;
        file.write_all(self.to_text().as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, dir.join(manifest_name(aof_filename)))?;
        sync_dir(dir)
    }
}

/// Fsyncs a directory, so renames and new files in it survive a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn parse_entry(words: &[Vec<u8>]) -> Result<AofFile, &'static str> {
    let mut name = None;
    let mut seq = 0;
    let mut kind = None;
    for pair in words.chunks(2) {
        let (key, value) = (&pair[0], &pair[1]);
        if key.eq_ignore_ascii_case(b"file") {
            if value.contains(&b'/') {
                return Err("File can't be a path, just a filename");
            }
            name = Some(String::from_utf8_lossy(value).into_owned());
        } else if key.eq_ignore_ascii_case(b"seq") {
            seq = atoll(value);
        } else if key.eq_ignore_ascii_case(b"type") {
            kind = value.first().copied();
        }
    }
    let (Some(name), Some(kind)) = (name, kind) else { return Err("Invalid AOF manifest file format") };
    if seq == 0 || name.is_empty() {
        return Err("Invalid AOF manifest file format");
    }
    let kind = match kind {
        b'b' => FileKind::Base,
        b'h' => FileKind::History,
        b'i' => FileKind::Incr,
        _ => return Err("Unknown AOF file type"),
    };
    Ok(AofFile { name, seq, kind })
}

/// C's `atoll`: leading blanks, a sign, then digits up to the first other byte.
fn atoll(s: &[u8]) -> i64 {
    let s = trim(s);
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let value = digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i64, |acc, &d| acc.wrapping_mul(10).wrapping_add(i64::from(d - b'0')));
    if negative {
        -value
    } else {
        value
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !blank(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !blank(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

/// Redis's `sdsneedsrepr`: names with spaces, quotes, backslashes or
/// non-printable bytes are written quoted.
fn needs_quoting(name: &[u8]) -> bool {
    name.iter()
        .any(|&b| matches!(b, b'\\' | b'"' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) || !(0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, seq: i64, kind: FileKind) -> AofFile {
        AofFile { name: name.into(), seq, kind }
    }

    #[test]
    fn round_trips_redis_layout() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\n\
                    file appendonly.aof.1.base.rdb seq 1 type h\n\
                    file appendonly.aof.3.incr.aof seq 3 type i\n\
                    file appendonly.aof.4.incr.aof seq 4 type i\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.base, Some(file("appendonly.aof.2.base.rdb", 2, FileKind::Base)));
        assert_eq!(m.history.len(), 1);
        assert_eq!((m.base_seq, m.incr_seq), (2, 4));
        assert_eq!(m.to_text(), text);
    }

    #[test]
    fn quotes_odd_names_and_reads_them_back() {
        let mut m = Manifest::default();
        m.new_base("my file.aof", BaseFormat::Aof);
        assert_eq!(m.to_text(), "file \"my file.aof.1.base.aof\" seq 1 type b\n");
        assert_eq!(Manifest::parse(m.to_text().as_bytes()).unwrap(), m);
    }

    #[test]
    fn comments_and_unknown_keys_are_accepted() {
        let m = Manifest::parse(b"# hello\nfile a.1.incr.aof seq 1 type i extra x\n").unwrap();
        assert_eq!(m.incr, vec![file("a.1.incr.aof", 1, FileKind::Incr)]);
    }

    #[test]
    fn errors_are_redis_texts() {
        let err = |t: &[u8]| Manifest::parse(t).unwrap_err().message;
        assert_eq!(err(b""), "Found an empty AOF manifest");
        assert_eq!(err(b"file a seq 1\n"), "Invalid AOF manifest file format");
        assert_eq!(err(b"\n"), "Invalid AOF manifest file format");
        assert_eq!(err(b"file a seq 1 type x\n"), "Unknown AOF file type");
        assert_eq!(err(b"file a/b seq 1 type b\n"), "File can't be a path, just a filename");
        assert_eq!(err(b"file a seq 1 type b\nfile b seq 2 type b\n"), "Found duplicate base file information");
        assert_eq!(err(b"file a seq 2 type i\nfile b seq 2 type i\n"), "Found a non-monotonic sequence number");
        assert_eq!(err(b"file a seq 1 type b"), "The AOF manifest file contains too long line");
        let long = format!("file {} seq 1 type b\n", "x".repeat(1100));
        assert_eq!(err(long.as_bytes()), "The AOF manifest file contains too long line");
        assert_eq!(Manifest::parse(b"file a seq 2 type i\n\n").unwrap_err().line, Some((2, String::new())));
    }

    #[test]
    fn rewrite_moves_old_files_to_history() {
        let mut m = Manifest::default();
        m.new_base("a", BaseFormat::Aof);
        m.new_incr("a");
        m.new_incr("a"); // opened when the rewrite started
        m.new_base("a", BaseFormat::Rdb);
        m.retire_rewritten_incrs(true);
        assert_eq!(
            m.to_text(),
            "file a.2.base.rdb seq 2 type b\nfile a.1.incr.aof seq 1 type h\n\
             file a.1.base.aof seq 1 type h\nfile a.2.incr.aof seq 2 type i\n"
        );
        assert_eq!(m.take_history().len(), 2);
        assert_eq!(m.last_incr_or_new("a"), "a.2.incr.aof");
    }

    #[test]
    fn persist_replaces_the_file() {
        let dir = std::env::temp_dir().join(format!("cinnabar-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut m = Manifest::default();
        m.new_incr("appendonly.aof");
        m.persist(&dir, "appendonly.aof").unwrap();
        let text = std::fs::read(dir.join("appendonly.aof.manifest")).unwrap();
        assert_eq!(Manifest::parse(&text).unwrap(), m);
        assert!(!dir.join("temp-appendonly.aof.manifest").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
