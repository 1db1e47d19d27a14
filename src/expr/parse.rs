//! Expression syntax: a small SQL dialect (PostgreSQL spelling) parsed into an untyped tree.
//! Every node keeps its byte span so later errors (unknown column, type mismatch) can point
//! at the exact place in the job file.

use crate::types::Logical;

/// Byte offsets into the expression text.
pub type Span = (usize, usize);

#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub at: Span,
    pub message: String,
}

fn err<T>(at: Span, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        at,
        message: message.into(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Concat => "||",
            BinOp::Eq => "=",
            BinOp::Ne => "<>",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "AND",
            BinOp::Or => "OR",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum AstKind {
    Column(String),
    Null,
    Bool(bool),
    Int(i64),
    /// A literal with a decimal point: exact, like PostgreSQL's numeric literals.
    Decimal(String),
    /// A literal with an exponent.
    Float(f64),
    Str(String),
    Neg(Box<Ast>),
    Not(Box<Ast>),
    Binary(BinOp, Box<Ast>, Box<Ast>),
    IsNull {
        expr: Box<Ast>,
        negated: bool,
    },
    In {
        expr: Box<Ast>,
        list: Vec<Ast>,
        negated: bool,
    },
    Like {
        expr: Box<Ast>,
        pattern: Box<Ast>,
        negated: bool,
        case_insensitive: bool,
    },
    Between {
        expr: Box<Ast>,
        low: Box<Ast>,
        high: Box<Ast>,
        negated: bool,
    },
    Call {
        name: String,
        args: Vec<Ast>,
    },
    Case {
        operand: Option<Box<Ast>>,
        whens: Vec<(Ast, Ast)>,
        otherwise: Option<Box<Ast>>,
    },
    Cast {
        expr: Box<Ast>,
        to: Logical,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ast {
    pub kind: AstKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An unquoted name (keywords are names compared case-insensitively).
    Word(String),
    Quoted(String),
    Number(String),
    Str(String),
    Sym(&'static str),
    End,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

const SYMBOLS: [&str; 18] = [
    "::", "||", "[]", "<>", "!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "%", "(", ")", ",",
];

impl Lexer<'_> {
    fn next(&mut self) -> Result<(Tok, Span), ParseError> {
        let bytes = self.src.as_bytes();
        while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(&c) = bytes.get(start) else {
            return Ok((Tok::End, (start, start)));
        };
        let rest = &self.src[start..];
        if c == b'\'' {
            let mut out = String::new();
            let mut i = start + 1;
            loop {
                match self.src[i..].find('\'') {
                    None => return err((start, self.src.len()), "unterminated string literal"),
                    Some(k) => {
                        out.push_str(&self.src[i..i + k]);
                        i += k + 1;
                        if bytes.get(i) == Some(&b'\'') {
                            out.push('\'');
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            self.pos = i;
            return Ok((Tok::Str(out), (start, i)));
        }
        if c == b'"' || c == b'`' {
            let close = c as char;
            return match rest[1..].find(close) {
                Some(k) if k > 0 => {
                    self.pos = start + k + 2;
                    Ok((Tok::Quoted(rest[1..1 + k].to_string()), (start, self.pos)))
                }
                Some(_) => err((start, start + 2), "empty quoted name"),
                None => err((start, self.src.len()), "unterminated quoted name"),
            };
        }
        if c.is_ascii_digit() || (c == b'.' && bytes.get(start + 1).is_some_and(u8::is_ascii_digit))
        {
            let mut i = start;
            let digits = |i: &mut usize| {
                while *i < bytes.len() && bytes[*i].is_ascii_digit() {
                    *i += 1;
                }
            };
            digits(&mut i);
            if bytes.get(i) == Some(&b'.') {
                i += 1;
                digits(&mut i);
            }
            if matches!(bytes.get(i), Some(b'e' | b'E')) {
                let mut j = i + 1;
                if matches!(bytes.get(j), Some(b'+' | b'-')) {
                    j += 1;
                }
                if bytes.get(j).is_some_and(u8::is_ascii_digit) {
                    i = j;
                    digits(&mut i);
                }
            }
            if bytes
                .get(i)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            {
                return err((start, i + 1), "a number runs into a name");
            }
            self.pos = i;
            return Ok((Tok::Number(self.src[start..i].to_string()), (start, i)));
        }
        let ident_char = |ch: char| ch.is_alphanumeric() || ch == '_' || ch == '$';
        if rest
            .chars()
            .next()
            .is_some_and(|ch| ch.is_alphabetic() || ch == '_')
        {
            let len = rest.find(|ch: char| !ident_char(ch)).unwrap_or(rest.len());
            self.pos = start + len;
            return Ok((Tok::Word(rest[..len].to_string()), (start, self.pos)));
        }
        for s in SYMBOLS {
            if rest.starts_with(s) {
                self.pos = start + s.len();
                return Ok((Tok::Sym(s), (start, self.pos)));
            }
        }
        let ch = rest.chars().next().unwrap_or(' ');
        err(
            (start, start + ch.len_utf8()),
            format!("unexpected character `{ch}`"),
        )
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    tok: Tok,
    span: Span,
}

/// Words that cannot be column names without quotes.
const RESERVED: [&str; 21] = [
    "and", "or", "not", "is", "null", "true", "false", "in", "like", "ilike", "between", "case",
    "when", "then", "else", "end", "cast", "as", "from", "for", "escape",
];

/// Parse one expression; the whole text must be used.
pub fn parse(src: &str) -> Result<Ast, ParseError> {
    let mut p = Parser {
        lexer: Lexer { src, pos: 0 },
        tok: Tok::End,
        span: (0, 0),
    };
    p.advance()?;
    if p.tok == Tok::End {
        return err((0, src.len()), "empty expression");
    }
    let e = p.expr()?;
    if p.tok != Tok::End {
        return err(
            p.span,
            format!("unexpected {} after the expression", p.describe()),
        );
    }
    Ok(e)
}

fn node(kind: AstKind, start: usize, end: usize) -> Ast {
    Ast {
        kind,
        span: (start, end),
    }
}

impl Parser<'_> {
    fn advance(&mut self) -> Result<(), ParseError> {
        let (t, s) = self.lexer.next()?;
        self.tok = t;
        self.span = s;
        Ok(())
    }

    fn describe(&self) -> String {
        match &self.tok {
            Tok::End => "end of expression".into(),
            Tok::Word(w) => format!("`{w}`"),
            Tok::Quoted(w) => format!("\"{w}\""),
            Tok::Number(n) => format!("number {n}"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Sym(s) => format!("`{s}`"),
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> Result<bool, ParseError> {
        if self.is_kw(kw) {
            self.advance()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn expect_kw(&mut self, kw: &str, context: &str) -> Result<(), ParseError> {
        if self.eat_kw(kw)? {
            Ok(())
        } else {
            err(
                self.span,
                format!(
                    "expected {} {context}, found {}",
                    kw.to_uppercase(),
                    self.describe()
                ),
            )
        }
    }

    fn eat_sym(&mut self, sym: &str) -> Result<bool, ParseError> {
        if self.tok == Tok::Sym(sym_static(sym)) {
            self.advance()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn expect_sym(&mut self, sym: &str, context: &str) -> Result<usize, ParseError> {
        let end = self.span.1;
        if self.eat_sym(sym)? {
            Ok(end)
        } else {
            err(
                self.span,
                format!("expected `{sym}` {context}, found {}", self.describe()),
            )
        }
    }

    fn expr(&mut self) -> Result<Ast, ParseError> {
        self.or()
    }

    fn or(&mut self) -> Result<Ast, ParseError> {
        let mut l = self.and()?;
        while self.eat_kw("or")? {
            let r = self.and()?;
            l = binary(BinOp::Or, l, r);
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Ast, ParseError> {
        let mut l = self.not()?;
        while self.eat_kw("and")? {
            let r = self.not()?;
            l = binary(BinOp::And, l, r);
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Ast, ParseError> {
        let start = self.span.0;
        if self.eat_kw("not")? {
            let e = self.not()?;
            let end = e.span.1;
            return Ok(node(AstKind::Not(Box::new(e)), start, end));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Ast, ParseError> {
        let l = self.concat()?;
        let start = l.span.0;
        let op = match &self.tok {
            Tok::Sym("=") => Some(BinOp::Eq),
            Tok::Sym("<>" | "!=") => Some(BinOp::Ne),
            Tok::Sym("<") => Some(BinOp::Lt),
            Tok::Sym("<=") => Some(BinOp::Le),
            Tok::Sym(">") => Some(BinOp::Gt),
            Tok::Sym(">=") => Some(BinOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.advance()?;
            let r = self.concat()?;
            return Ok(binary(op, l, r));
        }
        if self.eat_kw("is")? {
            let negated = self.eat_kw("not")?;
            let end = self.span.1;
            self.expect_kw("null", "after IS")?;
            return Ok(node(
                AstKind::IsNull {
                    expr: Box::new(l),
                    negated,
                },
                start,
                end,
            ));
        }
        let negated = self.eat_kw("not")?;
        if self.eat_kw("in")? {
            self.expect_sym("(", "after IN")?;
            let mut list = vec![self.expr()?];
            while self.eat_sym(",")? {
                list.push(self.expr()?);
            }
            let end = self.expect_sym(")", "to close the IN list")?;
            return Ok(node(
                AstKind::In {
                    expr: Box::new(l),
                    list,
                    negated,
                },
                start,
                end,
            ));
        }
        let like = self.is_kw("like");
        if like || self.is_kw("ilike") {
            self.advance()?;
            let pattern = self.concat()?;
            let end = pattern.span.1;
            return Ok(node(
                AstKind::Like {
                    expr: Box::new(l),
                    pattern: Box::new(pattern),
                    negated,
                    case_insensitive: !like,
                },
                start,
                end,
            ));
        }
        if self.eat_kw("between")? {
            let low = self.concat()?;
            self.expect_kw("and", "in BETWEEN … AND …")?;
            let high = self.concat()?;
            let end = high.span.1;
            return Ok(node(
                AstKind::Between {
                    expr: Box::new(l),
                    low: Box::new(low),
                    high: Box::new(high),
                    negated,
                },
                start,
                end,
            ));
        }
        if negated {
            return err(
                self.span,
                format!(
                    "expected IN, LIKE or BETWEEN after NOT, found {}",
                    self.describe()
                ),
            );
        }
        Ok(l)
    }

    fn concat(&mut self) -> Result<Ast, ParseError> {
        let mut l = self.additive()?;
        while self.eat_sym("||")? {
            let r = self.additive()?;
            l = binary(BinOp::Concat, l, r);
        }
        Ok(l)
    }

    fn additive(&mut self) -> Result<Ast, ParseError> {
        let mut l = self.multiplicative()?;
        loop {
            let op = match self.tok {
                Tok::Sym("+") => BinOp::Add,
                Tok::Sym("-") => BinOp::Sub,
                _ => return Ok(l),
            };
            self.advance()?;
            let r = self.multiplicative()?;
            l = binary(op, l, r);
        }
    }

    fn multiplicative(&mut self) -> Result<Ast, ParseError> {
        let mut l = self.unary()?;
        loop {
            let op = match self.tok {
                Tok::Sym("*") => BinOp::Mul,
                Tok::Sym("/") => BinOp::Div,
                Tok::Sym("%") => BinOp::Rem,
                _ => return Ok(l),
            };
            self.advance()?;
            let r = self.unary()?;
            l = binary(op, l, r);
        }
    }

    fn unary(&mut self) -> Result<Ast, ParseError> {
        let start = self.span.0;
        if self.eat_sym("-")? {
            let e = self.unary()?;
            let end = e.span.1;
            // Fold negative number literals so i64::MIN is writable.
            return Ok(match e.kind {
                AstKind::Int(i) => match i.checked_neg() {
                    Some(n) => node(AstKind::Int(n), start, end),
                    // -(-9223372036854775808): beyond bigint, exact as a decimal.
                    None => node(AstKind::Decimal(i.unsigned_abs().to_string()), start, end),
                },
                AstKind::Decimal(d) => {
                    let n = match d.strip_prefix('-') {
                        Some(positive) => positive.to_string(),
                        None => format!("-{d}"),
                    };
                    match n.parse::<i64>() {
                        Ok(i) if !n.contains('.') => node(AstKind::Int(i), start, end),
                        _ => node(AstKind::Decimal(n), start, end),
                    }
                }
                AstKind::Float(f) => node(AstKind::Float(-f), start, end),
                _ => node(AstKind::Neg(Box::new(e)), start, end),
            });
        }
        if self.eat_sym("+")? {
            return self.unary();
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Ast, ParseError> {
        let mut e = self.primary()?;
        while self.eat_sym("::")? {
            let (to, end) = self.type_name()?;
            let start = e.span.0;
            e = node(
                AstKind::Cast {
                    expr: Box::new(e),
                    to,
                },
                start,
                end,
            );
        }
        Ok(e)
    }

    /// A type name (`Logical::parse`): a word and the words of a longer name (`double
    /// precision`, `bigint unsigned`), an optional `(n[, m])` and what may follow it, an
    /// optional `[]`. Other words end it: `x::int AND y` casts to int.
    fn type_name(&mut self) -> Result<(Logical, usize), ParseError> {
        const MORE: [&str; 7] = [
            "precision",
            "varying",
            "unsigned",
            "with",
            "without",
            "time",
            "zone",
        ];
        let start = self.span.0;
        let mut words: Vec<String> = Vec::new();
        let mut end = self.span.1;
        while let Tok::Word(w) = &self.tok {
            let w = w.to_ascii_lowercase();
            if !words.is_empty() && !MORE.contains(&w.as_str()) {
                break;
            }
            words.push(w);
            end = self.span.1;
            self.advance()?;
        }
        if words.is_empty() {
            return err(
                self.span,
                format!("expected a type name, found {}", self.describe()),
            );
        }
        let mut text = words.join(" ");
        if self.eat_sym("(")? {
            let mut args = Vec::new();
            loop {
                match &self.tok {
                    Tok::Number(n) => args.push(n.clone()),
                    _ => {
                        return err(
                            self.span,
                            format!("expected a number in the type, found {}", self.describe()),
                        )
                    }
                }
                self.advance()?;
                if !self.eat_sym(",")? {
                    break;
                }
            }
            end = self.expect_sym(")", "to close the type's arguments")?;
            text = format!("{text}({})", args.join(","));
            // What may follow the arguments: `int(10) unsigned`, `timestamp(3) with time zone`.
            while let Tok::Word(w) = &self.tok {
                let w = w.to_ascii_lowercase();
                if !MORE.contains(&w.as_str()) {
                    break;
                }
                text = format!("{text} {w}");
                end = self.span.1;
                self.advance()?;
            }
        }
        if self.tok == Tok::Sym("[]") {
            end = self.span.1;
            self.advance()?;
            text.push_str("[]");
        }
        match Logical::parse(&text) {
            Some(t) => Ok((t, end)),
            None => err((start, end), Logical::unknown(&text)),
        }
    }

    fn primary(&mut self) -> Result<Ast, ParseError> {
        let (start, end) = self.span;
        let tok = std::mem::replace(&mut self.tok, Tok::End);
        match tok {
            Tok::Number(n) => {
                self.advance()?;
                let kind = if n.contains(['e', 'E']) {
                    match n.parse::<f64>() {
                        Ok(f) if f.is_finite() => AstKind::Float(f),
                        _ => return err((start, end), format!("number {n} is out of range")),
                    }
                } else if n.contains('.') {
                    AstKind::Decimal(n)
                } else {
                    match n.parse::<i64>() {
                        Ok(i) => AstKind::Int(i),
                        // Beyond bigint: exact, as a decimal.
                        Err(_) => AstKind::Decimal(n),
                    }
                };
                Ok(node(kind, start, end))
            }
            Tok::Str(s) => {
                self.advance()?;
                Ok(node(AstKind::Str(s), start, end))
            }
            Tok::Quoted(name) => {
                self.advance()?;
                Ok(node(AstKind::Column(name), start, end))
            }
            Tok::Sym("(") => {
                self.advance()?;
                let mut e = self.expr()?;
                let end = self.expect_sym(")", "to close the parenthesis")?;
                e.span = (start, end);
                Ok(e)
            }
            Tok::Word(w) => {
                self.tok = Tok::Word(w.clone());
                let lw = w.to_ascii_lowercase();
                match lw.as_str() {
                    "null" => {
                        self.advance()?;
                        Ok(node(AstKind::Null, start, end))
                    }
                    "true" | "false" => {
                        self.advance()?;
                        Ok(node(AstKind::Bool(lw == "true"), start, end))
                    }
                    "case" => self.case(),
                    "cast" => {
                        self.advance()?;
                        self.expect_sym("(", "after CAST")?;
                        let e = self.expr()?;
                        self.expect_kw("as", "in CAST(… AS type)")?;
                        let (to, _) = self.type_name()?;
                        let end = self.expect_sym(")", "to close CAST")?;
                        Ok(node(
                            AstKind::Cast {
                                expr: Box::new(e),
                                to,
                            },
                            start,
                            end,
                        ))
                    }
                    _ if RESERVED.contains(&lw.as_str()) => {
                        err((start, end), format!("expected a value, found `{w}`"))
                    }
                    _ => {
                        self.advance()?;
                        if self.tok == Tok::Sym("(") {
                            self.call(lw, start)
                        } else {
                            Ok(node(AstKind::Column(w), start, end))
                        }
                    }
                }
            }
            Tok::End => err((start, end), "expected a value, found end of expression"),
            other => {
                self.tok = other;
                err(
                    (start, end),
                    format!("expected a value, found {}", self.describe()),
                )
            }
        }
    }

    /// After the function name, at `(`.
    fn call(&mut self, name: String, start: usize) -> Result<Ast, ParseError> {
        self.advance()?;
        let mut args = Vec::new();
        if self.tok == Tok::Sym(")") {
            let end = self.span.1;
            self.advance()?;
            return Ok(node(AstKind::Call { name, args }, start, end));
        }
        args.push(self.expr()?);
        if name == "substring" && (self.is_kw("from") || self.is_kw("for")) {
            // PostgreSQL's substring(s FROM start FOR count).
            let from = if self.eat_kw("from")? {
                self.expr()?
            } else {
                node(AstKind::Int(1), self.span.0, self.span.0)
            };
            args.push(from);
            if self.eat_kw("for")? {
                args.push(self.expr()?);
            }
        } else {
            while self.eat_sym(",")? {
                args.push(self.expr()?);
            }
        }
        let end = self.expect_sym(")", &format!("to close {name}("))?;
        Ok(node(AstKind::Call { name, args }, start, end))
    }

    fn case(&mut self) -> Result<Ast, ParseError> {
        let start = self.span.0;
        self.advance()?;
        if self.is_kw("end") {
            return err(self.span, "expected WHEN in CASE, found END");
        }
        let operand = if self.is_kw("when") {
            None
        } else {
            Some(Box::new(self.expr()?))
        };
        let mut whens = Vec::new();
        while self.eat_kw("when")? {
            let cond = self.expr()?;
            self.expect_kw("then", "after the WHEN condition")?;
            whens.push((cond, self.expr()?));
        }
        if whens.is_empty() {
            return err(
                self.span,
                format!("expected WHEN in CASE, found {}", self.describe()),
            );
        }
        let otherwise = if self.eat_kw("else")? {
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        let end = self.span.1;
        self.expect_kw("end", "to close CASE")?;
        Ok(node(
            AstKind::Case {
                operand,
                whens,
                otherwise,
            },
            start,
            end,
        ))
    }
}

fn sym_static(s: &str) -> &'static str {
    SYMBOLS.iter().find(|x| **x == s).copied().unwrap_or("")
}

fn binary(op: BinOp, l: Ast, r: Ast) -> Ast {
    let span = (l.span.0, r.span.1);
    Ast {
        kind: AstKind::Binary(op, Box::new(l), Box::new(r)),
        span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Ast {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    fn e(s: &str) -> ParseError {
        parse(s).expect_err(s)
    }

    #[test]
    fn precedence_and_spans() {
        let a = p("a + b * 2 = 7 OR NOT c AND d");
        let AstKind::Binary(BinOp::Or, l, r) = &a.kind else {
            panic!("{a:?}")
        };
        assert!(matches!(&l.kind, AstKind::Binary(BinOp::Eq, x, _)
            if matches!(&x.kind, AstKind::Binary(BinOp::Add, _, m) if matches!(m.kind, AstKind::Binary(BinOp::Mul, _, _)))));
        assert!(
            matches!(&r.kind, AstKind::Binary(BinOp::And, n, _) if matches!(n.kind, AstKind::Not(_)))
        );
        assert_eq!(l.span, (0, 13));
        let c = p("concat(first_name, ' ', \"Last Name\")");
        let AstKind::Call { name, args } = &c.kind else {
            panic!()
        };
        assert_eq!(name, "concat");
        assert_eq!(args[1].kind, AstKind::Str(" ".into()));
        assert_eq!(args[2].kind, AstKind::Column("Last Name".into()));
        assert_eq!(args[2].span, (24, 35));
    }

    #[test]
    fn literals_casts_case() {
        assert_eq!(p("-9223372036854775808").kind, AstKind::Int(i64::MIN));
        assert_eq!(p("-(-1.5)").kind, AstKind::Decimal("1.5".into()));
        assert_eq!(
            p("-(-9223372036854775808)").kind,
            AstKind::Decimal("9223372036854775808".into())
        );
        assert_eq!(p("- -2").kind, AstKind::Int(2));
        assert_eq!(p("1.50").kind, AstKind::Decimal("1.50".into()));
        assert_eq!(p("1e3").kind, AstKind::Float(1000.0));
        assert_eq!(p("'it''s'").kind, AstKind::Str("it's".into()));
        assert!(matches!(
            p("x::numeric(10, 2)").kind,
            AstKind::Cast {
                to: Logical::Decimal(Some((10, 2))),
                ..
            }
        ));
        assert!(matches!(
            p("CAST(x AS double precision)").kind,
            AstKind::Cast {
                to: Logical::Float64,
                ..
            }
        ));
        assert!(matches!(
            p("x::text[]").kind,
            AstKind::Cast {
                to: Logical::TextList,
                ..
            }
        ));
        assert!(
            matches!(p("CASE WHEN a THEN 1 WHEN b THEN 2 END").kind, AstKind::Case { ref whens, otherwise: None, .. } if whens.len() == 2)
        );
        assert!(matches!(
            p("case x when 1 then 'a' else 'b' end").kind,
            AstKind::Case {
                operand: Some(_),
                ..
            }
        ));
        assert!(
            matches!(p("substring(name from 2 for 3)").kind, AstKind::Call { ref args, .. } if args.len() == 3)
        );
        assert!(matches!(
            p("x NOT IN (1, 2)").kind,
            AstKind::In { negated: true, .. }
        ));
        assert!(matches!(
            p("x not between 1 and 2").kind,
            AstKind::Between { negated: true, .. }
        ));
        assert!(matches!(
            p("x IS NOT NULL").kind,
            AstKind::IsNull { negated: true, .. }
        ));
        assert!(matches!(p("now()").kind, AstKind::Call { ref args, .. } if args.is_empty()));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let x = e("concat(a, 'b'");
        assert_eq!(x.at, (13, 13));
        assert!(x.message.contains("expected `)` to close concat("), "{x:?}");
        assert_eq!(e("a + * b").at, (4, 5));
        assert!(e("'open").message.contains("unterminated string"));
        assert_eq!(e("a = 1 b").at, (6, 7));
        assert!(e("x::nosuchtype")
            .message
            .contains("unknown type `nosuchtype`"));
        assert!(e("CASE END").message.contains("expected WHEN"));
        assert!(e("a ? b").message.contains("unexpected character `?`"));
        assert!(e("").message.contains("empty"));
        assert!(e("12abc").message.contains("number runs into a name"));
    }
}
