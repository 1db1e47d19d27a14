//! Each operator and function against hand-computed results (PostgreSQL's, where barge
//! follows its semantics), and the errors a user sees.

use super::pushdown::{to_mysql, ColumnClass, Push};
use super::*;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::*;
use arrow_schema::{DataType as D, Field, Schema, TimeUnit};

/// 2010-06-07 12:34:56.5 UTC
const NOW: i64 = 1_275_914_096_500_000;

fn batch() -> RecordBatch {
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int32Array::from(vec![1, 2, 3, 4]))),
        (
            "name",
            Arc::new(StringArray::from(vec![
                Some("Clark Kent"),
                None,
                Some("  Ünïcode Straße "),
                Some("bruce"),
            ])),
        ),
        (
            "price",
            Arc::new(
                Decimal128Array::from(vec![Some(1050), Some(-250), None, Some(0)])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
        ),
        (
            "ratio",
            Arc::new(Float64Array::from(vec![
                Some(2.5),
                Some(3.5),
                Some(-2.5),
                None,
            ])),
        ),
        (
            "active",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
            ])),
        ),
        (
            "born",
            Arc::new(Date32Array::from(vec![
                Some(14400),
                Some(0),
                None,
                Some(-1),
            ])),
        ),
        (
            "seen",
            Arc::new(
                TimestampMicrosecondArray::from(vec![Some(NOW), Some(0), None, Some(1)])
                    .with_timezone("UTC"),
            ),
        ),
        ("zero", Arc::new(Int64Array::from(vec![0, 1, 0, 2]))),
    ];
    let schema = Schema::new(
        cols.iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(Arc::new(schema), cols.into_iter().map(|(_, a)| a).collect()).unwrap()
}

fn scope_columns() -> Vec<(String, D)> {
    batch()
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

fn compiled(text: &str) -> Result<Expr, Error> {
    let src = ExprSource::parse(text, "test")?;
    let cols = scope_columns();
    compile(
        &src,
        &Scope {
            columns: &cols,
            now_micros: NOW,
        },
    )
}

fn run(text: &str) -> ArrayRef {
    let e = compiled(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    e.evaluate(&batch())
        .unwrap_or_else(|(s, m)| panic!("{text}: {m} at {s:?}"))
}

fn err(text: &str) -> String {
    match compiled(text) {
        Err(e) => e.to_string(),
        Ok(e) => match e.evaluate(&batch()) {
            Err((_, m)) => m,
            Ok(a) => panic!("{text}: expected an error, got {a:?}"),
        },
    }
}

fn strings(a: &ArrayRef) -> Vec<Option<String>> {
    let a = arrow_cast::cast(a, &D::Utf8).unwrap();
    a.as_string::<i32>()
        .iter()
        .map(|x| x.map(str::to_string))
        .collect()
}

fn texts(text: &str) -> Vec<Option<String>> {
    strings(&run(text))
}

fn s(v: &[Option<&str>]) -> Vec<Option<String>> {
    v.iter().map(|x| x.map(str::to_string)).collect()
}

fn bools(text: &str) -> Vec<Option<bool>> {
    run(text).as_boolean().iter().collect()
}

#[test]
fn arithmetic() {
    assert_eq!(
        texts("id + 1"),
        s(&[Some("2"), Some("3"), Some("4"), Some("5")])
    );
    assert_eq!(run("id + 1").data_type(), &D::Int64);
    // integer division truncates, as in PostgreSQL
    assert_eq!(texts("-7 / 2 + id * 0"), s(&[Some("-3"); 4]));
    assert_eq!(
        texts("id % 3"),
        s(&[Some("1"), Some("2"), Some("0"), Some("1")])
    );
    // decimals stay exact
    assert_eq!(
        texts("price * 2 + 0.01"),
        s(&[Some("21.01"), Some("-4.99"), None, Some("0.01")])
    );
    assert_eq!(
        texts("-price"),
        s(&[Some("-10.50"), Some("2.50"), None, Some("0.00")])
    );
    assert_eq!(
        texts("ratio * 2"),
        s(&[Some("5.0"), Some("7.0"), Some("-5.0"), None])
    );
    assert!(err("id / zero").contains("division by zero"));
    assert!(
        err("9223372036854775807 + id").contains("out of range"),
        "{}",
        err("9223372036854775807 + id")
    );
    assert!(err("name + 1").contains("`+` needs numbers, not text"));
    // constants fold at compile time, and their errors come out then
    assert!(compiled("1 / 0")
        .unwrap_err()
        .to_string()
        .contains("division by zero"));
}

#[test]
fn comparisons_and_logic() {
    assert_eq!(
        bools("id >= 2 AND id < 4"),
        [Some(false), Some(true), Some(true), Some(false)]
    );
    assert_eq!(
        bools("price > 0"),
        [Some(true), Some(false), None, Some(false)]
    );
    // a string literal takes the other side's type
    assert_eq!(
        bools("born >= '2009-06-01'"),
        [Some(true), Some(false), None, Some(false)]
    );
    assert_eq!(
        bools("seen < '2000-01-01 00:00:00'"),
        [Some(false), Some(true), None, Some(true)]
    );
    // date vs timestamp, and a boolean vs 0/1 (MySQL's TINYINT(1))
    assert_eq!(
        bools("born = seen"),
        [Some(false), Some(true), None, Some(false)]
    );
    assert_eq!(
        bools("active = 1"),
        [Some(true), Some(false), None, Some(true)]
    );
    // three-valued logic
    assert_eq!(
        bools("active OR id = 2"),
        [Some(true), Some(true), None, Some(true)]
    );
    assert_eq!(
        bools("active AND id = 3"),
        [Some(false), Some(false), None, Some(false)]
    );
    assert_eq!(
        bools("NOT active"),
        [Some(false), Some(true), None, Some(false)]
    );
    assert_eq!(
        bools("name IS NULL"),
        [Some(false), Some(true), Some(false), Some(false)]
    );
    assert_eq!(
        bools("price IS NOT NULL"),
        [Some(true), Some(true), Some(false), Some(true)]
    );
    assert_eq!(
        bools("id IN (1, 3)"),
        [Some(true), Some(false), Some(true), Some(false)]
    );
    assert_eq!(
        bools("id NOT IN (1, 3)"),
        [Some(false), Some(true), Some(false), Some(true)]
    );
    assert_eq!(
        bools("id BETWEEN 2 AND 3"),
        [Some(false), Some(true), Some(true), Some(false)]
    );
    assert_eq!(
        bools("name LIKE 'Clark%'"),
        [Some(true), None, Some(false), Some(false)]
    );
    assert_eq!(
        bools("name ILIKE 'BRU_E'"),
        [Some(false), None, Some(false), Some(true)]
    );
    assert_eq!(
        bools("name NOT LIKE '%e'"),
        [Some(true), None, Some(true), Some(false)]
    );
    assert!(err("name = 1").contains("cannot compare text with bigint"));
    assert!(err("born > 'yesterday'").contains("cannot read this text as date"));
    assert!(err("id AND active").contains("AND's left side must be a boolean, not integer"));
}

#[test]
fn string_functions() {
    assert_eq!(
        texts("concat(name, ' #', id)"),
        s(&[
            Some("Clark Kent #1"),
            Some(" #2"),
            Some("  Ünïcode Straße  #3"),
            Some("bruce #4")
        ])
    );
    // || is NULL when a side is; concat() skips NULLs
    assert_eq!(texts("name || '!'")[1], None);
    assert_eq!(
        texts("upper(name)"),
        s(&[
            Some("CLARK KENT"),
            None,
            Some("  ÜNÏCODE STRASSE "),
            Some("BRUCE")
        ])
    );
    assert_eq!(texts("lower(name)")[0], Some("clark kent".into()));
    assert_eq!(texts("lower(name)")[2], Some("  ünïcode straße ".into()));
    assert_eq!(texts("trim(name)")[2], Some("Ünïcode Straße".into()));
    assert_eq!(texts("ltrim(name)")[2], Some("Ünïcode Straße ".into()));
    assert_eq!(texts("rtrim(name)")[2], Some("  Ünïcode Straße".into()));
    // substring counts characters from 1; the window is clipped like PostgreSQL's
    assert_eq!(texts("substring(name, 3, 4)")[2], Some("Ünïc".into()));
    assert_eq!(texts("substring(name from 7)")[0], Some("Kent".into()));
    assert_eq!(texts("substring(name, 0, 3)")[0], Some("Cl".into()));
    assert_eq!(texts("substring(name, -5, 3)")[0], Some("".into()));
    assert!(err("substring(name, 1, -1)").contains("negative substring length"));
    assert_eq!(
        texts("replace(name, 'e', 'E')")[0],
        Some("Clark KEnt".into())
    );
    assert_eq!(texts("replace(name, '', 'x')")[3], Some("bruce".into()));
    assert_eq!(
        texts("length(name)"),
        s(&[Some("10"), None, Some("17"), Some("5")])
    );
    assert!(err("lower(id)").contains("lower() needs text, not integer"));
    assert!(err("replace(name, 'a')").contains("replace() takes 3 arguments, got 2"));
    assert!(err("concatt(name)").contains("unknown function `concatt`"));
}

#[test]
fn conditionals_casts_now() {
    assert_eq!(
        texts("coalesce(name, 'n/a')"),
        s(&[
            Some("Clark Kent"),
            Some("n/a"),
            Some("  Ünïcode Straße "),
            Some("bruce")
        ])
    );
    assert_eq!(texts("coalesce(price, 0)")[2], Some("0.00".into()));
    assert_eq!(
        texts("nullif(zero, 0)"),
        s(&[None, Some("1"), None, Some("2")])
    );
    // a branch runs only on its rows: no division by zero
    assert_eq!(
        texts("CASE WHEN zero <> 0 THEN 10 / zero WHEN id = 3 THEN -1 END"),
        s(&[None, Some("10"), Some("-1"), Some("5")])
    );
    assert_eq!(
        texts("CASE id WHEN 1 THEN 'one' WHEN 2 THEN 'two' ELSE 'many' END"),
        s(&[Some("one"), Some("two"), Some("many"), Some("many")])
    );
    assert!(err("CASE WHEN active THEN 1 ELSE 'x' END").contains("cannot read this text as bigint"));
    // float → integer rounds half to even; numeric → integer rounds half away from zero
    assert_eq!(
        texts("ratio::integer"),
        s(&[Some("2"), Some("4"), Some("-2"), None])
    );
    assert_eq!(texts("(price / 4)::bigint")[0], Some("3".into()));
    assert_eq!(texts("cast('12' AS smallint) + id")[0], Some("13".into()));
    assert_eq!(
        run("price::numeric(12,4)").data_type(),
        &D::Decimal128(12, 4)
    );
    assert_eq!(texts("price::numeric(12,4)")[0], Some("10.5000".into()));
    assert_eq!(
        texts("seen::text")[0],
        Some("2010-06-07 12:34:56.5+00".into())
    );
    assert_eq!(texts("born::text")[0], Some("2009-06-05".into()));
    assert!(
        err("name::integer").contains("Cannot cast string 'Clark Kent'"),
        "{}",
        err("name::integer")
    );
    assert!(err("'x'::integer").contains("Cannot cast string 'x' to value of Int32 type"));
    assert_eq!(
        run("now()")
            .as_primitive::<TimestampMicrosecondType>()
            .value(3),
        NOW
    );
    assert_eq!(texts("current_date")[0], Some("2010-06-07".into()));
    assert_eq!(
        run("now()").data_type(),
        &D::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
}

#[test]
fn errors_show_where() {
    let e = err("concat(name, nam)");
    assert!(
        e.starts_with("test, at character 14: no column `nam`"),
        "{e}"
    );
    assert!(e.contains("(it has: id, name, price"), "{e}");
    assert!(
        e.ends_with("    concat(name, nam)\n                 ^^^"),
        "{e:?}"
    );
    let e = err("upper(name) ||");
    assert!(
        e.contains("at character 15: expected a value, found end of expression"),
        "{e}"
    );
}

#[test]
fn postgres_semantics_in_the_corners() {
    // -(-x), and the negation of bigint's minimum.
    assert_eq!(texts("-(-1.5) + id * 0"), s(&[Some("1.5"); 4]));
    assert_eq!(
        texts("-(-9223372036854775808)")[0],
        Some("9223372036854775808".into())
    );
    // coalesce stops at the first value: the division runs only where price is NULL.
    assert_eq!(
        texts("coalesce(price, 10 / (id - 2))"),
        s(&[Some("10.50"), Some("-2.50"), Some("10.00"), Some("0.00")])
    );
    assert!(err("coalesce(price, 10 / (id - 3))").contains("division by zero"));
    assert_eq!(
        texts("coalesce(name, upper(name), 'x')")[1],
        Some("x".into())
    );
    // numeric division keeps 16 places, rounded
    assert_eq!(
        texts("2.00 / 3 + id * 0")[0],
        Some("0.6666666666666667".into())
    );
    assert_eq!(
        texts("(price / 3)::numeric(10,6)")[0],
        Some("3.500000".into())
    );
    assert_eq!(
        texts("(price / 9)::numeric(10,6)")[0],
        Some("1.166667".into())
    );
    // floats divided by zero are an error, as in PostgreSQL; a NULL dividend is not
    assert!(err("ratio / zero").contains("division by zero"));
    assert_eq!(texts("ratio / (zero * 0.0 + 1)")[3], None);
    assert_eq!(
        texts("length('é') + octet_length('é') * 10 + id * 0")[0],
        Some("21".into())
    );
    // -0.0 equals 0
    assert_eq!(bools("ratio * 0 - 0.0 = 0")[2], Some(true));
    assert_eq!(bools("-0.0e0 < 0 AND id = 1")[0], Some(false));
    // text as PostgreSQL prints it
    assert_eq!(texts("concat('a', active)")[0], Some("at".into()));
    assert_eq!(texts("active::text")[0], Some("true".into()));
    assert_eq!(texts("(ratio * 2)::text")[0], Some("5".into()));
    assert_eq!(texts("(1e20 + ratio)::text")[0], Some("1e+20".into()));
    assert_eq!(texts("(ratio / 1e7)::text")[0], Some("2.5e-07".into()));
    assert_eq!(
        texts("(ratio * 1e14)::text")[0],
        Some("250000000000000".into())
    );
    assert_eq!(
        texts("'ab'::bytea::text || name")[0],
        Some("\\x6162Clark Kent".into())
    );
    // type modifiers of explicit casts
    assert_eq!(texts("name::varchar(5)")[2], Some("  Ünï".into()));
    assert_eq!(
        texts("seen::timestamptz(0)::text")[0],
        Some("2010-06-07 12:34:57+00".into())
    );
    // Type names end where the expression goes on; either engine's words are read.
    assert_eq!(
        bools("(id > 2)::boolean AND id > 3"),
        [Some(false), Some(false), Some(false), Some(true)]
    );
    assert_eq!(texts("id::int(10) unsigned::text")[0], Some("1".into()));
    assert_eq!(
        texts("seen::timestamp(0) with time zone::text")[0],
        Some("2010-06-07 12:34:57+00".into())
    );
    // Rounded half away from zero from PostgreSQL's epoch, 2000-01-01, as it rounds.
    assert_eq!(
        texts("'1999-12-31 23:59:59.9995'::timestamp::timestamp(3)::text")[0],
        Some("1999-12-31 23:59:59.999".into())
    );
    assert_eq!(
        texts("'2000-01-01 00:00:00.0005'::timestamp::timestamp(3)::text")[0],
        Some("2000-01-01 00:00:00.001".into())
    );
    assert!(err("price::numeric(10, 2.5)").contains("unknown type `numeric(10,2.5)`"));
    assert!(err("price::numeric(10, 20)").contains("the scale cannot exceed the precision"));
}

#[test]
fn pushdown_keeps_meaning() {
    let classes = |i: usize| match i {
        1 => ColumnClass::Text,
        5 | 6 => ColumnClass::Temporal,
        _ => ColumnClass::Exact,
    };
    let push = |t: &str| to_mysql(&compiled(t).unwrap(), &classes);
    let exact = |sql: &str| Push::Exact(sql.into());
    let superset = |sql: &str| Push::Superset(sql.into());
    assert_eq!(push("id > 2"), exact("(`id` > 2)"));
    assert_eq!(push("active = 1"), exact("(`active` = TRUE)"));
    assert_eq!(push("active"), exact("(`active` <> 0)"));
    assert_eq!(push("price <= 10.5"), exact("(`price` <= 10.50)"));
    // no arithmetic: MySQL's unsigned columns raise errors where barge does not
    assert_eq!(push("price * 2 <= 10.5"), Push::No);
    // every comparison in parentheses: HIGH_NOT_PRECEDENCE cannot regroup it
    assert_eq!(
        push("id IN (1, 2) AND NOT zero = 0"),
        exact("(((`id` = 1) OR (`id` = 2)) AND (NOT (`zero` = 0)))")
    );
    // collations make MySQL's = on text match more rows: pushed, and checked again by barge
    assert_eq!(push("name = 'Bruce'"), superset("(`name` = 'Bruce')"));
    assert_eq!(push("name LIKE 'Cl%'"), superset("(`name` LIKE 'Cl%')"));
    assert_eq!(push("name LIKE name"), Push::No);
    assert_eq!(push("name <> 'x'"), Push::No);
    assert_eq!(push("name = 'a\\b'"), Push::No);
    // zero dates are NULL to barge but dates to MySQL
    assert_eq!(
        push("born >= '2010-01-01'"),
        superset("(`born` >= '2010-01-01')")
    );
    assert_eq!(push("born IS NULL"), Push::No);
    // more than 65 digits is a double to MySQL
    assert_eq!(
        push("price < 100000000000000000000000000000000000000000000000000000000000000000.5"),
        Push::No
    );
    // functions and casts stay in barge; an AND keeps what it can
    assert_eq!(push("lower(name) = 'bruce'"), Push::No);
    assert_eq!(
        push("id > 1 AND lower(name) = 'bruce'"),
        superset("(`id` > 1)")
    );
    assert_eq!(push("id > 1 OR lower(name) = 'bruce'"), Push::No);
    assert_eq!(push("ratio::integer = 2"), Push::No);
}
