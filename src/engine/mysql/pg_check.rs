//! A PostgreSQL CHECK (a domain's or a table's) in MySQL's SQL, where it means the same there.
//!
//! `pg_get_constraintdef` prints a small, regular language: parentheses around everything,
//! casts (`'a'::text`), `~~` for LIKE, `= ANY (ARRAY[…])` for IN. This translates the part of
//! it whose meaning MySQL keeps on barge's tables (utf8mb4_bin, so text compares and matches
//! case-sensitively, as in PostgreSQL): comparisons, AND/OR/NOT, IS [NOT] NULL, LIKE,
//! regular expressions of the common syntax, IN lists, `+ - *`, and a few functions.
//! Anything else gives `None`, and the CHECK is left out with a warning rather than guessed.

use super::ddl::quote_literal;
use super::read::quote_ident;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Cast,
    Op(&'static str),
    Word(String),
    /// A quoted identifier: `"Name"`.
    Ident(String),
    Str(String),
    Num(String),
}

fn tokens(s: &str) -> Option<Vec<Tok>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Longest first.
    const OPS: [&str; 16] = [
        "!~~*", "!~~", "~~*", "!~*", "~~", "~*", "!~", "<>", "!=", "<=", ">=", "~", "=", "<", ">",
        "+",
    ];
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' => i += 1,
            b'(' => (out.push(Tok::LParen), i += 1).1,
            b')' => (out.push(Tok::RParen), i += 1).1,
            b'[' => (out.push(Tok::LBracket), i += 1).1,
            b']' => (out.push(Tok::RBracket), i += 1).1,
            b',' => (out.push(Tok::Comma), i += 1).1,
            b':' if b.get(i + 1) == Some(&b':') => (out.push(Tok::Cast), i += 2).1,
            b'-' => (out.push(Tok::Op("-")), i += 1).1,
            b'*' => (out.push(Tok::Op("*")), i += 1).1,
            b'"' => {
                let mut v = String::new();
                i += 1;
                loop {
                    let end = i + s[i..].find('"')?;
                    v.push_str(&s[i..end]);
                    if b.get(end + 1) == Some(&b'"') {
                        v.push('"');
                        i = end + 2;
                    } else {
                        i = end + 1;
                        break;
                    }
                }
                out.push(Tok::Ident(v));
            }
            b'\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    let end = i + s[i..].find('\'')?;
                    v.push_str(&s[i..end]);
                    if b.get(end + 1) == Some(&b'\'') {
                        v.push('\'');
                        i = end + 2;
                    } else {
                        i = end + 1;
                        break;
                    }
                }
                out.push(Tok::Str(v));
            }
            b'0'..=b'9' | b'.' => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_digit()
                        || b[i] == b'.'
                        || ((b[i] == b'e' || b[i] == b'E') && i > start)
                        || ((b[i] == b'+' || b[i] == b'-') && matches!(b[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                out.push(Tok::Num(s[start..i].to_string()));
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(Tok::Word(s[start..i].to_ascii_lowercase()));
            }
            _ => {
                let op = OPS.iter().find(|op| s[i..].starts_with(**op))?;
                out.push(Tok::Op(op));
                i += op.len();
            }
        }
    }
    Some(out)
}

/// Types whose casts can go: MySQL compares the column's own value, and a literal of the
/// same kind, the same way.
const TEXT_TYPES: [&str; 5] = ["text", "varchar", "character", "bpchar", "name"];
const NUMBER_TYPES: [&str; 8] = [
    "integer", "int", "int4", "bigint", "int8", "smallint", "int2", "numeric",
];

/// What an operand is, so that an IN list or a regular expression can ask.
enum Val {
    Sql(String),
    /// An expression PostgreSQL compares as text (a cast to text).
    TextSql(String),
    /// A number literal.
    Num(String),
    /// `ARRAY[…]`, and whether it holds text.
    List(Vec<String>, bool),
    /// A string literal: a pattern can be rewritten.
    Text(String),
}

impl Val {
    fn sql(self) -> Option<String> {
        match self {
            Val::Sql(s) | Val::TextSql(s) | Val::Num(s) => Some(s),
            Val::Text(t) => Some(quote_literal(&t)),
            Val::List(..) => None,
        }
    }

    fn is_text(&self) -> bool {
        matches!(self, Val::Text(_) | Val::TextSql(_))
    }
}

/// Text compared byte for byte: utf8mb4_bin ignores trailing spaces (`'a ' = 'a'`), which
/// PostgreSQL does not.
fn bytes(sql: String) -> String {
    format!("CAST({sql} AS BINARY)")
}

struct Parser<'a> {
    toks: Vec<Tok>,
    at: usize,
    /// A domain's CHECK: the column `VALUE` stands for.
    value: Option<&'a str>,
    /// A table's CHECK: whether a name is one of the table's columns.
    is_column: &'a dyn Fn(&str) -> bool,
}

/// The condition of a domain's `def` (`CHECK (…)` with `VALUE` for the value) on `column`,
/// in MySQL.
pub fn translate(def: &str, column: &str) -> Option<String> {
    parse(def, Some(column), &|_| false)
}

/// The condition of a table's `def`, over columns for which `is_column` holds (named the
/// same in the target), in MySQL.
pub fn translate_table(def: &str, is_column: &dyn Fn(&str) -> bool) -> Option<String> {
    parse(def, None, is_column)
}

fn parse(def: &str, value: Option<&str>, is_column: &dyn Fn(&str) -> bool) -> Option<String> {
    let body = def.trim().strip_prefix("CHECK")?.trim();
    // Rows the source holds may break a NOT VALID one, and MySQL checks every row it loads.
    if body.ends_with("NOT VALID") {
        return None;
    }
    let mut p = Parser {
        toks: tokens(body)?,
        at: 0,
        value,
        is_column,
    };
    let out = p.or()?.sql()?;
    (p.at == p.toks.len()).then_some(out)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(x)) if x == w) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: Tok) -> Option<()> {
        (self.next()? == t).then_some(())
    }

    fn or(&mut self) -> Option<Val> {
        let mut left = self.and()?;
        while self.word("or") {
            let right = self.and()?.sql()?;
            left = Val::Sql(format!("({} OR {right})", left.sql()?));
        }
        Some(left)
    }

    fn and(&mut self) -> Option<Val> {
        let mut left = self.not()?;
        while self.word("and") {
            let right = self.not()?.sql()?;
            left = Val::Sql(format!("({} AND {right})", left.sql()?));
        }
        Some(left)
    }

    fn not(&mut self) -> Option<Val> {
        if self.word("not") {
            return Some(Val::Sql(format!("(NOT {})", self.not()?.sql()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Option<Val> {
        let left = self.sum()?;
        if self.word("is") {
            let not = if self.word("not") { " NOT" } else { "" };
            let what = match self.next()? {
                Tok::Word(w) if w == "null" => "NULL",
                Tok::Word(w) if w == "true" => "TRUE",
                Tok::Word(w) if w == "false" => "FALSE",
                _ => return None,
            };
            return Some(Val::Sql(format!("({} IS{not} {what})", left.sql()?)));
        }
        let Some(Tok::Op(op)) = self.peek().cloned() else {
            return Some(left);
        };
        if matches!(op, "+" | "-" | "*") {
            return Some(left);
        }
        self.at += 1;
        // `= ANY (ARRAY[…])` and `<> ALL (ARRAY[…])` are how PostgreSQL prints IN lists.
        let quantified = match self.peek() {
            Some(Tok::Word(w)) if w == "any" || w == "all" => Some(w.clone()),
            _ => None,
        };
        if let Some(q) = quantified {
            self.at += 1;
            self.expect(Tok::LParen)?;
            let Val::List(items, text_items) = self.sum()? else {
                return None;
            };
            let text = text_items || left.is_text();
            let items: Vec<String> = if text {
                items.into_iter().map(bytes).collect()
            } else {
                items
            };
            self.expect(Tok::RParen)?;
            let not = match (op, q.as_str()) {
                ("=", "any") => "",
                ("<>" | "!=", "all") => "NOT ",
                _ => return None,
            };
            let l = left.sql()?;
            let l = if text { bytes(l) } else { l };
            return Some(Val::Sql(format!("({l} {not}IN ({}))", items.join(", "))));
        }
        let right = self.sum()?;
        let text = left.is_text() || right.is_text();
        let l = left.sql()?;
        let sql = match op {
            // Text order follows the source database's collation, which MySQL's is not.
            "<" | "<=" | ">" | ">=" if text => return None,
            "=" | "<>" | "!=" if text => format!(
                "({} {} {})",
                bytes(l),
                if op == "=" { "=" } else { "<>" },
                bytes(right.sql()?)
            ),
            "=" | "<>" | "<" | "<=" | ">" | ">=" => format!("({l} {op} {})", right.sql()?),
            "!=" => format!("({l} <> {})", right.sql()?),
            "~~" => format!("({l} LIKE {})", right.sql()?),
            "!~~" => format!("({l} NOT LIKE {})", right.sql()?),
            "~~*" | "!~~*" => format!(
                "(LOWER({l}) {}LIKE LOWER({}))",
                if op == "!~~*" { "NOT " } else { "" },
                right.sql()?
            ),
            // Not `!~`: MySQL's `$` also matches before a final newline, so the negation
            // would be stricter than PostgreSQL's.
            "~" | "~*" => {
                let Val::Text(pattern) = right else {
                    return None;
                };
                let pattern = portable_pattern(&pattern)?;
                // PostgreSQL's `.` matches a newline by default.
                let flags = if op.ends_with('*') { "(?si)" } else { "(?s)" };
                format!(
                    "({l} REGEXP {})",
                    quote_literal(&format!("{flags}{pattern}"))
                )
            }
            _ => return None,
        };
        Some(Val::Sql(sql))
    }

    fn sum(&mut self) -> Option<Val> {
        let mut left = self.primary()?;
        while let Some(Tok::Op(op @ ("+" | "-" | "*"))) = self.peek().cloned() {
            self.at += 1;
            let right = self.primary()?.sql()?;
            left = Val::Sql(format!("({} {op} {right})", left.sql()?));
        }
        Some(left)
    }

    fn primary(&mut self) -> Option<Val> {
        let v = match self.next()? {
            Tok::LParen => {
                // Every operator's result has its own parentheses already.
                let inner = self.or()?;
                self.expect(Tok::RParen)?;
                inner
            }
            Tok::Str(s) => Val::Text(s),
            Tok::Num(n) => Val::Num(n),
            Tok::Op("-") => match self.next()? {
                Tok::Num(n) => Val::Num(format!("-{n}")),
                _ => return None,
            },
            Tok::Ident(name) if (self.is_column)(&name) => Val::Sql(quote_ident(&name)),
            Tok::Word(w) => match w.as_str() {
                "value" if self.value.is_some() => Val::Sql(quote_ident(self.value?)),
                "null" => Val::Sql("NULL".into()),
                "true" => Val::Sql("TRUE".into()),
                "false" => Val::Sql("FALSE".into()),
                "array" => {
                    self.expect(Tok::LBracket)?;
                    let mut items = Vec::new();
                    let mut text = false;
                    loop {
                        let item = self.sum()?;
                        text |= item.is_text();
                        items.push(item.sql()?);
                        match self.next()? {
                            Tok::Comma => continue,
                            Tok::RBracket => break,
                            _ => return None,
                        }
                    }
                    Val::List(items, text)
                }
                name if self.peek() != Some(&Tok::LParen) => {
                    if !(self.is_column)(name) {
                        return None;
                    }
                    Val::Sql(quote_ident(name))
                }
                f => {
                    let mysql = match f {
                        "char_length" | "character_length" | "length" => "CHAR_LENGTH",
                        "octet_length" => "LENGTH",
                        "lower" => "LOWER",
                        "upper" => "UPPER",
                        "btrim" => "TRIM",
                        "abs" => "ABS",
                        _ => return None,
                    };
                    self.expect(Tok::LParen)?;
                    let arg = self.or()?.sql()?;
                    self.expect(Tok::RParen)?;
                    Val::Sql(format!("{mysql}({arg})"))
                }
            },
            _ => return None,
        };
        self.cast(v)
    }

    /// `::type`, `::character varying(80)`, `::text[]`: dropped where the meaning stays.
    fn cast(&mut self, v: Val) -> Option<Val> {
        if self.peek() != Some(&Tok::Cast) {
            return Some(v);
        }
        self.at += 1;
        let mut name = match self.next()? {
            Tok::Word(w) => w,
            _ => return None,
        };
        if (name == "character" || name == "char") && self.word("varying") {
            name = "varchar".into();
        }
        if name == "double" && self.word("precision") {
            name = "numeric".into();
        }
        if name == "timestamp" {
            // `with time zone` compares instants, which a DATETIME does not hold.
            if self.word("with") {
                return None;
            }
            if self.word("without") && !(self.word("time") && self.word("zone")) {
                return None;
            }
        }
        if self.peek() == Some(&Tok::LParen) {
            // A length or precision rounds or cuts values, which a dropped cast would not.
            if !matches!(v, Val::Text(_) | Val::Num(_)) {
                return None;
            }
            self.at += 1;
            while !matches!(self.next()?, Tok::RParen) {}
        }
        let array = self.peek() == Some(&Tok::LBracket);
        if array {
            self.expect(Tok::LBracket)?;
            self.expect(Tok::RBracket)?;
        }
        let text = TEXT_TYPES.contains(&name.as_str());
        let number = NUMBER_TYPES.contains(&name.as_str());
        let v = match v {
            Val::List(items, t) if array && (text || number) => Val::List(items, t || text),
            Val::Text(t) if text && !array => Val::Text(t),
            // '2020-01-01'::date: MySQL compares a date or datetime column with the text as
            // a date or datetime. Only ISO dates: 'infinity', 'today', BC dates are not.
            Val::Text(t) if (name == "date" || name == "timestamp") && !array && iso_date(&t) => {
                Val::Sql(quote_literal(&t))
            }
            // '1000000'::numeric: the number itself, so MySQL compares numbers.
            Val::Text(t) if number && !array => {
                let n: &str = t.trim();
                n.parse::<f64>().ok()?;
                n.bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                    .then(|| Val::Num(n.to_string()))?
            }
            Val::Num(n) if number && !array => Val::Num(n),
            // A value compared as text in PostgreSQL: MySQL compares its bytes.
            Val::Sql(s) | Val::TextSql(s) if text && !array => Val::TextSql(s),
            // A cast of a column to a number rounds (10.4::integer is 10).
            _ => return None,
        };
        self.cast(v)
    }
}

/// A regular expression in the syntax PostgreSQL's and MySQL's engines share: escapes of
/// punctuation and the classes `\d \s \w` (and their negations); PostgreSQL's own escapes
/// (`\m`, `\y`, …) are refused.
fn portable_pattern(p: &str) -> Option<&str> {
    // Word boundaries, collating elements, equivalence classes, embedded options, directors.
    if ["[[:<:]]", "[[:>:]]", "[[.", "[[=", "(?", "***"]
        .iter()
        .any(|s| p.contains(s))
    {
        return None;
    }
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let e = chars.next()?;
            if e.is_ascii_alphanumeric() && !"dDsSwW".contains(e) {
                return None;
            }
        }
    }
    Some(p)
}

/// `YYYY-MM-DD`, optionally with ` hh:mm:ss[.f]`.
fn iso_date(t: &str) -> bool {
    let shape = t
        .bytes()
        .map(|b| if b.is_ascii_digit() { b'9' } else { b })
        .collect::<Vec<u8>>();
    let (date, time) = shape.split_at(shape.len().min(10));
    date == b"9999-99-99"
        && (time.is_empty()
            || time.starts_with(b" 99:99:99")
                && (time.len() == 9
                    || (time.len() > 10
                        && time[9] == b'.'
                        && time[10..].iter().all(|&b| b == b'9'))))
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn what_postgres_prints_becomes_mysql() {
        let t = |d: &str| translate(d, "mail");
        assert_eq!(
            t("CHECK ((VALUE ~~ '%@%'::text))").as_deref(),
            Some("(`mail` LIKE '%@%')")
        );
        assert_eq!(
            t("CHECK (((VALUE > 0) AND (VALUE < 100)))").as_deref(),
            Some("((`mail` > 0) AND (`mail` < 100))")
        );
        assert_eq!(
            t("CHECK (((VALUE)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])))").as_deref(),
            Some("(CAST(`mail` AS BINARY) IN (CAST('a' AS BINARY), CAST('b' AS BINARY)))")
        );
        assert_eq!(
            t("CHECK ((char_length((VALUE)::text) >= 1))").as_deref(),
            Some("(CHAR_LENGTH(`mail`) >= 1)")
        );
        assert_eq!(
            t("CHECK (((VALUE ~* '^[a-z]+$'::text) OR (VALUE IS NULL)))").as_deref(),
            Some("((`mail` REGEXP '(?si)^[a-z]+$') OR (`mail` IS NULL))")
        );
        assert_eq!(
            t("CHECK (((VALUE >= (0)::numeric) AND (VALUE <= '1000000'::numeric)))").as_deref(),
            Some("((`mail` >= 0) AND (`mail` <= 1000000))")
        );
        // Backslashes are doubled for MySQL's string syntax; `\d` means the same in both.
        assert_eq!(
            t(r"CHECK ((VALUE ~ '^\d{3}$'::text))").as_deref(),
            Some(r"(`mail` REGEXP '(?s)^\\d{3}$')")
        );
        assert_eq!(
            t("CHECK ((VALUE <> ALL (ARRAY[1, -2])))").as_deref(),
            Some("(`mail` NOT IN (1, -2))")
        );
        assert_eq!(
            t("CHECK (NOT (VALUE IS NULL))").as_deref(),
            Some("(NOT (`mail` IS NULL))")
        );
    }

    #[test]
    fn a_tables_check_names_its_columns() {
        let cols = ["title", "published_on", "Starts At", "ends_at", "value"];
        let t = |d: &str| super::translate_table(d, &|c| cols.contains(&c));
        assert_eq!(
            t("CHECK (((title)::text <> ''::text))").as_deref(),
            Some("(CAST(`title` AS BINARY) <> CAST('' AS BINARY))")
        );
        assert_eq!(
            t(r#"CHECK ((ends_at > "Starts At"))"#).as_deref(),
            Some("(`ends_at` > `Starts At`)")
        );
        assert_eq!(
            t("CHECK ((published_on >= '2020-01-01'::date))").as_deref(),
            Some("(`published_on` >= '2020-01-01')")
        );
        // In a table's CHECK, `value` is a column like any other.
        assert_eq!(t("CHECK ((value > 0))").as_deref(), Some("(`value` > 0)"));
        assert_eq!(
            t("CHECK ((ends_at > '2020-01-01 00:00:00'::timestamp without time zone))").as_deref(),
            Some("(`ends_at` > '2020-01-01 00:00:00')")
        );
        for def in [
            // Rows the source holds may break it.
            "CHECK ((published_on >= '2020-01-01'::date)) NOT VALID",
            // A column the table does not have under that name, a zone-aware instant.
            "CHECK ((subtitle <> ''::text))",
            "CHECK ((ends_at > '2020-01-01 00:00:00+00'::timestamp with time zone))",
            "CHECK ((ends_at > CURRENT_DATE))",
        ] {
            assert_eq!(t(def), None, "{def}");
        }
    }

    #[test]
    fn what_mysql_would_read_otherwise_is_left_out() {
        for def in [
            // A function MySQL lacks or spells differently, a cast that changes meaning.
            "CHECK ((VALUE > now()))",
            "CHECK (((VALUE)::date > '2000-01-01'::date))",
            // PostgreSQL's own regular-expression escapes, a pattern from a column.
            r"CHECK ((VALUE ~ '\mword\M'::text))",
            "CHECK ((VALUE ~ VALUE))",
            // Stricter or different in MySQL: a negated regex (`$` before a final newline),
            // text order (the source's collation), a cast that rounds or cuts, a date that
            // is not ISO, PostgreSQL's own regex syntax.
            "CHECK ((VALUE !~ 'x'::text))",
            "CHECK (((VALUE)::text < 'm'::text))",
            "CHECK (((VALUE)::integer <= 10))",
            "CHECK (((VALUE)::character varying(3) = 'abc'::text))",
            "CHECK ((VALUE >= 'infinity'::date))",
            "CHECK ((VALUE ~ '[[:<:]]x'::text))",
            "CHECK ((VALUE = '0.1'::real))",
            // Not yet validated: rows the source holds may break it.
            "CHECK ((VALUE > 0)) NOT VALID",
            // A column name in a domain's CHECK.
            "CHECK ((title <> ''::text))",
            // Integer division truncates in PostgreSQL only; E'' strings; subqueries.
            "CHECK (((VALUE / 2) > 1))",
            "CHECK ((VALUE = E'\\n'))",
            "CHECK ((VALUE = ANY (SELECT 1)))",
            "CHECK ((VALUE > 0)",
            "NOT A CHECK",
        ] {
            assert_eq!(translate(def, "c"), None, "{def}");
        }
    }
}
