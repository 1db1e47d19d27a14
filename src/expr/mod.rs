//! Expressions in job files: computed columns and row filters.
//!
//! Text is parsed once ([`parse`]), typed against the columns a table's batches carry
//! ([`compile`]: every column reference, function and operand type is checked before any
//! data moves), and evaluated batch by batch with Arrow compute kernels ([`eval`]). Filters
//! are also translated, where the meaning is the same on MySQL, into a WHERE the source
//! server runs ([`pushdown`]).

pub mod compile;
pub mod eval;
pub mod parse;
pub mod pushdown;
pub mod text;

use crate::error::Error;
use arrow_array::ArrayRef;
use arrow_schema::DataType;
use parse::{Ast, BinOp, Span};
use std::sync::Arc;

/// The name a user knows a type by (PostgreSQL's, where there is one).
pub fn type_name(t: &DataType) -> String {
    use DataType as D;
    match t {
        D::Null => "unknown (NULL)".into(),
        D::Int8 => "tinyint".into(),
        D::UInt8 | D::UInt16 | D::UInt32 => format!("unsigned {t}"),
        D::UInt64 => "bigint unsigned".into(),
        D::Timestamp(_, None) => "timestamp".into(),
        D::Timestamp(_, Some(_)) => "timestamptz".into(),
        D::Decimal128(p, s) | D::Decimal256(p, s) => format!("numeric({p},{s})"),
        D::Duration(_) => "interval".into(),
        D::List(_) => "text[]".into(),
        _ => crate::types::Logical::for_arrow(t)
            .map(|p| p.name())
            .unwrap_or_else(|| t.to_string()),
    }
}

pub use compile::{compile, Scope};

/// An expression's text, parsed, and where it came from (for error messages).
#[derive(Debug, Clone)]
pub struct ExprSource {
    pub text: String,
    /// What the expression is, e.g. `tables.characters.add.full_name`.
    pub label: String,
    pub ast: Ast,
    locator: Option<Arc<Locator>>,
}

/// Where each byte of an expression's text sits in a file.
#[derive(Debug)]
pub struct Locator {
    pub file: String,
    /// (line, column), both from 1, for each byte offset of the text and one past its end.
    pub positions: Vec<(u32, u32)>,
}

impl ExprSource {
    /// Parse an expression given in code (library use): errors name the label and a character
    /// position in the text.
    pub fn parse(text: &str, label: &str) -> Result<ExprSource, Error> {
        Self::parse_located(text, label, None)
    }

    /// Parse an expression read from a file: errors point at the file, line and column.
    pub fn parse_located(
        text: &str,
        label: &str,
        locator: Option<Locator>,
    ) -> Result<ExprSource, Error> {
        let locator = locator
            .filter(|l| l.positions.len() == text.len() + 1)
            .map(Arc::new);
        let mut src = ExprSource {
            text: text.to_string(),
            label: label.to_string(),
            ast: Ast {
                kind: parse::AstKind::Null,
                span: (0, 0),
            },
            locator,
        };
        match parse::parse(text) {
            Ok(ast) => {
                src.ast = ast;
                Ok(src)
            }
            Err(e) => Err(src.error(e.at, &e.message)),
        }
    }

    /// An error about the part of the text at `span`, with the text and a caret line under it.
    pub fn error(&self, span: Span, message: &str) -> Error {
        let (start, end) = (span.0.min(self.text.len()), span.1.min(self.text.len()));
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line = &self.text[line_start..line_end];
        let pad = self.text[line_start..start].chars().count();
        let width = self.text[start..end.clamp(start, line_end)]
            .chars()
            .count()
            .max(1);
        let at = match &self.locator {
            Some(l) => {
                let (ln, col) = l.positions[start];
                format!("{}:{ln}:{col}: {}", l.file, self.label)
            }
            None => format!("{}, at character {}", self.label, pad + 1),
        };
        Error::Config(format!(
            "{at}: {message}\n    {line}\n    {}{}",
            " ".repeat(pad),
            "^".repeat(width)
        ))
    }

    /// The text at a span (a sub-expression as the user wrote it).
    pub fn snippet(&self, span: Span) -> &str {
        self.text.get(span.0..span.1).unwrap_or(&self.text).trim()
    }
}

/// A typed expression over a record batch.
#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: Kind,
    /// The Arrow type of the values it gives.
    pub ty: DataType,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `concat(…)`: NULL arguments are skipped, as in PostgreSQL.
    Concat,
    /// `a || b`: NULL if either side is.
    ConcatOp,
    Lower,
    Upper,
    Trim,
    Ltrim,
    Rtrim,
    Substring,
    Replace,
    /// Characters (bytes for bytea).
    Length,
    /// Bytes.
    OctetLength,
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// A column of the batch: its position, and its source name (for SQL).
    Column {
        index: usize,
        name: String,
    },
    /// A one-element array.
    Literal(ArrayRef),
    /// To `ty`; `implicit` when the type checker put it there to make operands agree. `pg`
    /// (explicit casts) applies the type's modifier: `varchar(n)` cuts to n characters,
    /// `timestamp(p)` rounds to p fractional digits.
    Cast {
        expr: Box<Expr>,
        implicit: bool,
        ty: Option<crate::types::Logical>,
    },
    /// Text as PostgreSQL's output function writes it (what `concat` and `||` use).
    Text(Box<Expr>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Arith(BinOp, Box<Expr>, Box<Expr>),
    Cmp(BinOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
        case_insensitive: bool,
    },
    Func(Func, Vec<Expr>),
    Coalesce(Vec<Expr>),
    NullIf(Box<Expr>, Box<Expr>),
    /// Each branch is evaluated only on the rows that reach it, as in SQL.
    Case {
        whens: Vec<(Expr, Expr)>,
        otherwise: Box<Expr>,
    },
}

impl Expr {
    /// The columns it reads (batch positions).
    pub fn columns(&self, out: &mut Vec<usize>) {
        if let Kind::Column { index, .. } = &self.kind {
            if !out.contains(index) {
                out.push(*index);
            }
        }
        for c in self.children() {
            c.columns(out);
        }
    }

    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            Kind::Column { .. } | Kind::Literal(_) => vec![],
            Kind::Cast { expr, .. }
            | Kind::Text(expr)
            | Kind::Neg(expr)
            | Kind::Not(expr)
            | Kind::IsNull { expr, .. } => vec![expr],
            Kind::Arith(_, a, b)
            | Kind::Cmp(_, a, b)
            | Kind::And(a, b)
            | Kind::Or(a, b)
            | Kind::NullIf(a, b)
            | Kind::Like {
                expr: a,
                pattern: b,
                ..
            } => vec![a, b],
            Kind::Func(_, args) | Kind::Coalesce(args) => args.iter().collect(),
            Kind::Case { whens, otherwise } => whens
                .iter()
                .flat_map(|(c, v)| [c, v])
                .chain([otherwise.as_ref()])
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
