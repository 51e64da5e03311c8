//! A reader for the EDN subset Jepsen histories use: nil, booleans, numbers (with
//! `N`/`M` suffixes), strings, characters, keywords, symbols, lists, vectors, maps,
//! sets, tagged elements (so `#jepsen.history.Op{…}` records read as maps), `;`
//! comments, `#_` discards and commas as whitespace. Every form carries the line it
//! starts on, so errors can say `file:line`.

use serde_json::{Map, Number, Value};

/// An EDN value.
#[derive(Debug, Clone, PartialEq)]
pub enum Edn {
    /// `nil`
    Nil,
    /// `true` / `false`
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A number too large for 64 bits, or a decimal with `M`, kept as text.
    BigNum(String),
    /// `"…"`
    Str(String),
    /// `\c`
    Char(char),
    /// `:name` or `:ns/name` (stored without the colon).
    Keyword(String),
    /// `name`
    Symbol(String),
    /// `(…)` or `[…]`
    Seq(Vec<Edn>),
    /// `{…}`
    Map(Vec<(Edn, Edn)>),
    /// `#{…}`
    Set(Vec<Edn>),
    /// `#tag value`
    Tagged(String, Box<Edn>),
}

impl Edn {
    /// Converts to JSON: keywords, symbols and characters become strings; lists, vectors
    /// and sets become arrays; maps become objects (non-string keys are written as their
    /// JSON text, so `{0 10}` becomes `{"0": 10}`); tags are dropped.
    pub fn to_json(&self) -> Value {
        match self {
            Edn::Nil => Value::Null,
            Edn::Bool(b) => Value::Bool(*b),
            Edn::Int(i) => Value::from(*i),
            Edn::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Edn::BigNum(s) => s.parse::<serde_json::Number>().map_or_else(|_| Value::String(s.clone()), Value::Number),
            Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => Value::String(s.clone()),
            Edn::Char(c) => Value::String(c.to_string()),
            Edn::Seq(items) | Edn::Set(items) => Value::Array(items.iter().map(Edn::to_json).collect()),
            Edn::Map(pairs) => {
                let mut m = Map::new();
                for (k, v) in pairs {
                    let key = match k.to_json() {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    m.insert(key, v.to_json());
                }
                Value::Object(m)
            }
            Edn::Tagged(_, v) => v.to_json(),
        }
    }

    /// Looks up a keyword key in a map (or a tagged map).
    pub fn get(&self, keyword: &str) -> Option<&Edn> {
        match self {
            Edn::Map(pairs) => pairs.iter().find(|(k, _)| matches!(k, Edn::Keyword(s) if s == keyword)).map(|(_, v)| v),
            Edn::Tagged(_, inner) => inner.get(keyword),
            _ => None,
        }
    }
}

/// A syntax error at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdnError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// How deeply forms may nest (as for JSONL): deeper input is refused rather than
/// allowed to exhaust the stack.
pub const MAX_DEPTH: usize = 128;

/// Reads top-level forms one at a time.
pub struct Reader<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `text`.
    pub fn new(text: &'a str) -> Reader<'a> {
        Reader { src: text.as_bytes(), pos: 0, line: 1, depth: 0 }
    }

    /// If the next form is a list or vector, enters it and answers its closing
    /// delimiter and the line it opens on, so its items can be read one at a time
    /// with their own lines ([`Reader::next_item`]).
    pub fn enter_seq(&mut self) -> Result<Option<(u8, usize)>, EdnError> {
        self.skip_space()?;
        let close = match self.peek() {
            Some(b'(') => b')',
            Some(b'[') => b']',
            _ => return Ok(None),
        };
        let line = self.line;
        self.bump();
        self.depth += 1;
        Ok(Some((close, line)))
    }

    /// The next item of the sequence entered with [`Reader::enter_seq`], with the line
    /// it starts on; `None` after its closing delimiter.
    pub fn next_item(&mut self, close: u8, opened: usize) -> Result<Option<(usize, Edn)>, EdnError> {
        self.skip_space()?;
        match self.peek() {
            None => Err(EdnError { line: opened, message: format!("'{}' opened here is never closed", opener(close)) }),
            Some(c) if c == close => {
                self.bump();
                self.depth -= 1;
                Ok(None)
            }
            Some(_) => {
                let line = self.line;
                Ok(Some((line, self.form()?)))
            }
        }
    }

    /// Runs `read` one level deeper, refusing input nested beyond [`MAX_DEPTH`].
    fn nested<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T, EdnError>) -> Result<T, EdnError> {
        if self.depth >= MAX_DEPTH {
            return self.err(format!("nested more than {MAX_DEPTH} levels deep"));
        }
        self.depth += 1;
        let out = read(self);
        self.depth -= 1;
        out
    }

    /// The next top-level form and the line it starts on, or `None` at the end.
    pub fn next_form(&mut self) -> Result<Option<(usize, Edn)>, EdnError> {
        self.skip_space()?;
        if self.pos >= self.src.len() {
            return Ok(None);
        }
        let line = self.line;
        Ok(Some((line, self.form()?)))
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, EdnError> {
        Err(EdnError { line: self.line, message: message.into() })
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Skips whitespace, commas, comments and `#_` discarded forms.
    fn skip_space(&mut self) -> Result<(), EdnError> {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b',' => {
                    self.bump();
                }
                b';' => {
                    while let Some(c) = self.bump() {
                        if c == b'\n' {
                            break;
                        }
                    }
                }
                b'#' if self.src.get(self.pos + 1) == Some(&b'_') => {
                    self.pos += 2;
                    self.nested(|r| {
                        r.skip_space()?;
                        r.form()
                    })?;
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn form(&mut self) -> Result<Edn, EdnError> {
        self.skip_space()?;
        let Some(c) = self.peek() else { return self.err("unexpected end of input") };
        match c {
            b'(' | b'[' => {
                self.bump();
                Ok(Edn::Seq(self.nested(|r| r.until(if c == b'(' { b')' } else { b']' }))?))
            }
            b'{' => {
                self.bump();
                let items = self.nested(|r| r.until(b'}'))?;
                if items.len() % 2 == 1 {
                    return self.err("a map needs an even number of forms");
                }
                let mut it = items.into_iter();
                let mut pairs = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Ok(Edn::Map(pairs))
            }
            b')' | b']' | b'}' => self.err(format!("unexpected '{}'", c as char)),
            b'"' => self.string(),
            b'\\' => self.character(),
            b'#' => {
                self.bump();
                match self.peek() {
                    Some(b'{') => {
                        self.bump();
                        Ok(Edn::Set(self.nested(|r| r.until(b'}'))?))
                    }
                    Some(c) if c.is_ascii_alphabetic() => {
                        let tag = self.token();
                        Ok(Edn::Tagged(tag, Box::new(self.nested(Reader::form)?)))
                    }
                    _ => self.err("unsupported dispatch after '#'"),
                }
            }
            b':' => {
                self.bump();
                let name = self.token();
                if name.is_empty() {
                    return self.err("empty keyword");
                }
                Ok(Edn::Keyword(name))
            }
            _ => {
                let tok = self.token();
                if tok.is_empty() {
                    return self.err(format!("unexpected character '{}'", c as char));
                }
                Ok(atom(&tok))
            }
        }
    }

    /// Forms up to the closing delimiter.
    fn until(&mut self, close: u8) -> Result<Vec<Edn>, EdnError> {
        let start = self.line;
        let mut items = Vec::new();
        loop {
            self.skip_space()?;
            match self.peek() {
                None => {
                    return Err(EdnError {
                        line: start,
                        message: format!("'{}' opened here is never closed", opener(close)),
                    })
                }
                Some(c) if c == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(_) => items.push(self.form()?),
            }
        }
    }

    fn token(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() || b",()[]{}\";".contains(&c) {
                break;
            }
            self.bump();
        }
        String::from_utf8_lossy(&self.src[start..self.pos]).into_owned()
    }

    fn string(&mut self) -> Result<Edn, EdnError> {
        let start = self.line;
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.bump() {
                None => return Err(EdnError { line: start, message: "string never closed".into() }),
                Some(b'"') => break,
                Some(b'\\') => match self.bump() {
                    Some(b'n') => out.push(b'\n'),
                    Some(b't') => out.push(b'\t'),
                    Some(b'r') => out.push(b'\r'),
                    Some(c @ (b'"' | b'\\')) => out.push(c),
                    Some(c) => return self.err(format!("unknown string escape '\\{}'", c as char)),
                    None => return self.err("string never closed"),
                },
                Some(c) => out.push(c),
            }
        }
        String::from_utf8(out).map(Edn::Str).or_else(|_| self.err("string is not valid UTF-8"))
    }

    fn character(&mut self) -> Result<Edn, EdnError> {
        self.bump();
        let tok = self.token();
        let c = match tok.as_str() {
            "newline" => '\n',
            "space" => ' ',
            "tab" => '\t',
            "return" => '\r',
            "" => match self.bump() {
                Some(c) => c as char,
                None => return self.err("character literal at end of input"),
            },
            t if t.chars().count() == 1 => t.chars().next().unwrap_or(' '),
            t => return self.err(format!("unknown character literal \\{t}")),
        };
        Ok(Edn::Char(c))
    }
}

fn opener(close: u8) -> char {
    match close {
        b')' => '(',
        b']' => '[',
        _ => '{',
    }
}

/// Parses a bare token: nil, booleans, numbers or a symbol.
fn atom(tok: &str) -> Edn {
    match tok {
        "nil" => return Edn::Nil,
        "true" => return Edn::Bool(true),
        "false" => return Edn::Bool(false),
        _ => {}
    }
    let numeric = tok.starts_with(|c: char| c.is_ascii_digit())
        || (tok.len() > 1 && tok.starts_with(['-', '+']) && tok[1..].starts_with(|c: char| c.is_ascii_digit()));
    if numeric {
        let body = tok.trim_end_matches(['N', 'M']);
        if let Ok(i) = body.parse::<i64>() {
            return Edn::Int(i);
        }
        if !tok.ends_with('M') {
            if let Ok(f) = body.parse::<f64>() {
                if !body.chars().all(|c| c.is_ascii_digit() || c == '-' || c == '+') {
                    return Edn::Float(f);
                }
            }
        }
        return Edn::BigNum(body.trim_start_matches('+').to_owned());
    }
    Edn::Symbol(tok.to_owned())
}

/// Writes a JSON value as EDN (the inverse of [`Edn::to_json`] for histories):
/// strings listed in `keywords` context become keywords where Jepsen expects them.
pub fn write_json_as_edn(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_json_as_edn(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json_as_edn(&Value::String(k.clone()), out);
                out.push(' ');
                write_json_as_edn(v, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read_all(text: &str) -> Result<Vec<(usize, Edn)>, EdnError> {
        let mut r = Reader::new(text);
        let mut out = Vec::new();
        while let Some(f) = r.next_form()? {
            out.push(f);
        }
        Ok(out)
    }

    #[test]
    fn reads_jepsen_records_and_scalars() {
        let text = "; a comment\n#jepsen.history.Op{:index 0, :time 12, :type :invoke, :process 3, :f :txn, :value [[:append 5 1] [:r 5 nil]]}\n{:a #{1 2}, \"s\\\"q\" \\c, :big 123456789012345678901234N, :f -1.5, :m 2.50M #_ :gone}\n";
        let forms = read_all(text).unwrap();
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[0].0, 2);
        assert_eq!(forms[0].1.get("process"), Some(&Edn::Int(3)));
        assert_eq!(forms[0].1.get("value").unwrap().to_json(), json!([["append", 5, 1], ["r", 5, null]]));
        assert_eq!(forms[1].0, 3);
        assert_eq!(
            forms[1].1.to_json(),
            json!({"a": [1, 2], "s\"q": "c", "big": serde_json::from_str::<Value>("123456789012345678901234").unwrap(), "f": -1.5, "m": 2.50})
        );
    }

    #[test]
    fn map_keys_that_are_not_strings_become_their_text() {
        let forms = read_all("{0 10, 1 -3}").unwrap();
        assert_eq!(forms[0].1.to_json(), json!({"0": 10, "1": -3}));
    }

    #[test]
    fn errors_name_the_line() {
        let err = read_all("{:a 1}\n{:b [1 2}\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("unexpected '}'"), "{}", err.message);
        let err = read_all("{:a 1}\n\n{:b \n 2").unwrap_err();
        assert_eq!((err.line, err.message.as_str()), (3, "'{' opened here is never closed"));
        let err = read_all("{:a}").unwrap_err();
        assert!(err.message.contains("even number"), "{}", err.message);
    }

    #[test]
    fn json_round_trips_through_edn_text() {
        let v = json!({"type": "ok", "value": [1, "two\n", null, true, {"x": [2.5]}]});
        let mut s = String::new();
        write_json_as_edn(&v, &mut s);
        assert_eq!(read_all(&s).unwrap()[0].1.to_json(), v);
    }
}
