//! Reading a history's text whole, safely: a line longer than [`MAX_LINE_BYTES`]
//! stops the read with its line number (so `/dev/zero` or an endless stdin fails
//! fast instead of filling memory), and text that is not UTF-8 names the line where
//! it stops being so.

use crate::ParseError;
use std::io::Read;
use std::path::Path;

/// The longest line a history may have: 256 MiB (a one-line JSON array of a million
/// transactions fits).
pub const MAX_LINE_BYTES: usize = 256 << 20;

/// Reads all of `source` (named `path` in errors) as text.
pub fn read_text(source: impl Read, path: &Path) -> Result<String, ParseError> {
    read_text_capped(source, path, MAX_LINE_BYTES, 0)
}

/// Reads the file at `path` as text (see [`read_text`]), into one allocation of the
/// file's size: growing a buffer by doubling would touch twice the memory, and a large
/// history's check spent a third of its time with the kernel zeroing those pages.
pub fn read_text_file(path: &Path) -> Result<String, ParseError> {
    let io = |source| ParseError::Io { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_or(0, |m| usize::try_from(m.len()).unwrap_or(0));
    read_text_capped(file, path, MAX_LINE_BYTES, size)
}

fn read_text_capped(mut source: impl Read, path: &Path, max_line: usize, size_hint: usize) -> Result<String, ParseError> {
    // One byte more than the hint, so reaching the end needs no second allocation.
    let mut bytes = Vec::with_capacity(size_hint.saturating_add(1));
    let mut chunk = vec![0u8; 1 << 16];
    let (mut line, mut line_len) = (1usize, 0usize);
    loop {
        let n = match source.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(ParseError::Io { path: path.to_owned(), source }),
        };
        for &b in &chunk[..n] {
            if b == b'\n' {
                line += 1;
                line_len = 0;
            } else {
                line_len += 1;
            }
        }
        if line_len > max_line {
            return Err(ParseError::malformed(path, line, format!("line is longer than {} MiB: not a history", max_line >> 20)));
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = good.len() - good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        ParseError::malformed(path, line, format!("not valid UTF-8 at byte {column} of the line"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_line_stops_with_its_number() {
        let endless = std::io::repeat(0).take(10_000);
        let err = read_text_capped(std::io::Cursor::new(b"ok\n".to_vec()).chain(endless), Path::new("/dev/zero"), 4096, 0).unwrap_err();
        assert_eq!(err.to_string(), "/dev/zero:2: line is longer than 0 MiB: not a history");
    }

    #[test]
    fn invalid_utf8_names_line_and_byte() {
        let err = read_text(&b"{}\n{}\nab\xffcd\n"[..], Path::new("h.jsonl")).unwrap_err();
        assert_eq!(err.to_string(), "h.jsonl:3: not valid UTF-8 at byte 3 of the line");
        assert_eq!(read_text(&b"x\ny"[..], Path::new("h")).unwrap(), "x\ny");
    }
}
