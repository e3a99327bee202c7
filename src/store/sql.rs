//! One set of statements for both engines: the arguments and row cells
//! SQLite and PostgreSQL share, and a transaction that runs a statement
//! written once (`?N` placeholders) on either.

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use crate::error::{Error, Result};

/// Which database engine holds the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// An embedded SQLite file (the default).
    Sqlite,
    /// A PostgreSQL server, shared by several serve replicas.
    Postgres,
}

/// A statement argument. Integers are 64-bit and booleans are 0/1 on both
/// engines; text and blobs are borrowed.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// Values that can be a statement argument.
pub trait ToArg {
    fn to_arg(&self) -> Arg<'_>;
}

impl ToArg for i64 {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(*self)
    }
}
impl ToArg for u8 {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(i64::from(*self))
    }
}
impl ToArg for bool {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(i64::from(*self))
    }
}
impl ToArg for str {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}
impl ToArg for String {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}
impl ToArg for [u8] {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}
impl ToArg for Vec<u8> {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}
impl<T: ToArg + ?Sized> ToArg for &T {
    fn to_arg(&self) -> Arg<'_> {
        (**self).to_arg()
    }
}
impl<T: ToArg> ToArg for Option<T> {
    fn to_arg(&self) -> Arg<'_> {
        self.as_ref().map_or(Arg::Null, ToArg::to_arg)
    }
}

/// `args![a, b]`: the arguments of one statement, as a slice.
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        &[$($crate::store::sql::ToArg::to_arg(&$a)),*] as &[$crate::store::sql::Arg<'_>]
    };
}
pub(crate) use args;

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Arg::Null => ValueRef::Null,
            Arg::Int(i) => ValueRef::Integer(i),
            Arg::Text(s) => ValueRef::Text(s.as_bytes()),
            Arg::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, BoxError> {
        match *self {
            Arg::Null => Ok(IsNull::Yes),
            // The column's type decides the width: the schema uses BIGINT,
            // but a parameter compared with a literal may be inferred narrower.
            Arg::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                _ => Err(format!("an integer argument where {ty} is wanted").into()),
            },
            Arg::Text(s) => s.to_sql(ty, out),
            Arg::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// One value of a result row, borrowed from the row.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'r> {
    Null,
    Int(i64),
    Text(&'r str),
    Blob(&'r [u8]),
}

/// A PostgreSQL value read as a [`Cell`] whatever its column type.
struct PgCell<'r>(Cell<'r>);

impl<'r> FromSql<'r> for PgCell<'r> {
    fn from_sql(ty: &Type, raw: &'r [u8]) -> std::result::Result<Self, BoxError> {
        Ok(PgCell(match *ty {
            Type::INT8 => Cell::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Cell::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Cell::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Cell::Int(bool::from_sql(ty, raw)?.into()),
            Type::BYTEA => Cell::Blob(<&[u8]>::from_sql(ty, raw)?),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON | Type::UNKNOWN => {
                Cell::Text(<&str>::from_sql(ty, raw)?)
            }
            _ => return Err(format!("a column of type {ty}, which moat never stores").into()),
        }))
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Self, BoxError> {
        Ok(PgCell(Cell::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A result row of either engine.
pub enum Row<'r> {
    Lite(&'r rusqlite::Row<'r>),
    Pg(&'r postgres::Row),
}

impl<'r> Row<'r> {
    /// Column `i` as it is stored.
    pub fn cell(&self, i: usize) -> Result<Cell<'r>> {
        match self {
            Row::Lite(r) => {
                use rusqlite::types::ValueRef;
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Text(t) => Cell::Text(
                        std::str::from_utf8(t).map_err(|_| corrupt(i, "text that is not UTF-8"))?,
                    ),
                    ValueRef::Blob(b) => Cell::Blob(b),
                    ValueRef::Real(_) => return Err(corrupt(i, "a floating-point number")),
                })
            }
            Row::Pg(r) => Ok(r.try_get::<_, PgCell<'r>>(i)?.0),
        }
    }

    /// Column `i` as a `T`; a value of another kind is a corrupt state.
    pub fn get<T: FromCell<'r>>(&self, i: usize) -> Result<T> {
        let cell = self.cell(i)?;
        T::from_cell(cell).ok_or_else(|| corrupt(i, "a value of the wrong kind"))
    }
}

fn corrupt(i: usize, what: &str) -> Error {
    Error::corrupt(format!("state database: column {i} holds {what}"))
}

/// Types a [`Cell`] converts to.
pub trait FromCell<'r>: Sized {
    fn from_cell(c: Cell<'r>) -> Option<Self>;
}

impl FromCell<'_> for i64 {
    fn from_cell(c: Cell<'_>) -> Option<Self> {
        match c {
            Cell::Int(i) => Some(i),
            _ => None,
        }
    }
}
impl FromCell<'_> for u8 {
    fn from_cell(c: Cell<'_>) -> Option<Self> {
        i64::from_cell(c).and_then(|i| u8::try_from(i).ok())
    }
}
impl FromCell<'_> for bool {
    fn from_cell(c: Cell<'_>) -> Option<Self> {
        i64::from_cell(c).map(|i| i != 0)
    }
}
impl<'r> FromCell<'r> for &'r str {
    fn from_cell(c: Cell<'r>) -> Option<Self> {
        match c {
            Cell::Text(t) => Some(t),
            _ => None,
        }
    }
}
impl FromCell<'_> for String {
    fn from_cell(c: Cell<'_>) -> Option<Self> {
        <&str>::from_cell(c).map(str::to_owned)
    }
}
impl<'r> FromCell<'r> for &'r [u8] {
    fn from_cell(c: Cell<'r>) -> Option<Self> {
        match c {
            Cell::Blob(b) => Some(b),
            _ => None,
        }
    }
}
impl FromCell<'_> for Vec<u8> {
    fn from_cell(c: Cell<'_>) -> Option<Self> {
        <&[u8]>::from_cell(c).map(<[u8]>::to_vec)
    }
}
impl<'r, T: FromCell<'r>> FromCell<'r> for Option<T> {
    fn from_cell(c: Cell<'r>) -> Option<Self> {
        match c {
            Cell::Null => Some(None),
            c => T::from_cell(c).map(Some),
        }
    }
}

/// An open connection to either engine.
pub enum Conn {
    Lite(rusqlite::Connection),
    Pg(Box<PgConn>),
}

/// A PostgreSQL connection with its prepared statements.
pub struct PgConn {
    pub client: postgres::Client,
    stmts: HashMap<String, postgres::Statement>,
}

impl PgConn {
    pub fn new(client: postgres::Client) -> PgConn {
        PgConn {
            client,
            stmts: HashMap::new(),
        }
    }
}

/// What a transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One consistent snapshot, no writes.
    Read,
    /// Writes, one writer at a time across every process and replica.
    Write,
    /// Writes that need no place in that queue: on PostgreSQL they take no
    /// advisory lock and rely on its row locks alone, so they may touch
    /// only rows no ordered writer reads to decide (the relays table) and
    /// never append to the audit chain. On SQLite, the same as `Write`.
    Unordered,
    /// Schema changes: like `Write`, and it waits for every other transaction.
    Migrate,
}

/// Every writer takes this PostgreSQL advisory lock first, as every SQLite
/// writer takes the file's write lock: the audit chain is appended in
/// order and no read-modify-write loses a write, across replicas.
const PG_WRITE_LOCK: i64 = 0x6d6f_6174; // "moat"

/// A transaction on either engine.
pub enum Txn<'a> {
    Lite(rusqlite::Transaction<'a>),
    Pg(RefCell<PgTxn<'a>>),
}

pub struct PgTxn<'a> {
    tx: postgres::Transaction<'a>,
    stmts: &'a mut HashMap<String, postgres::Statement>,
}

impl Conn {
    pub fn engine(&self) -> Engine {
        match self {
            Conn::Lite(_) => Engine::Sqlite,
            Conn::Pg(_) => Engine::Postgres,
        }
    }

    /// Begin a transaction.
    pub fn begin(&mut self, mode: Mode) -> Result<Txn<'_>> {
        match self {
            Conn::Lite(c) => {
                use rusqlite::TransactionBehavior as B;
                let behavior = match mode {
                    Mode::Read => B::Deferred,
                    Mode::Write | Mode::Unordered => B::Immediate,
                    Mode::Migrate => B::Exclusive,
                };
                Ok(Txn::Lite(c.transaction_with_behavior(behavior)?))
            }
            Conn::Pg(p) => {
                use postgres::IsolationLevel as L;
                let b = p.client.build_transaction();
                let mut tx = match mode {
                    Mode::Read => b
                        .isolation_level(L::RepeatableRead)
                        .read_only(true)
                        .start()?,
                    Mode::Write | Mode::Unordered | Mode::Migrate => {
                        b.isolation_level(L::ReadCommitted).start()?
                    }
                };
                if matches!(mode, Mode::Write | Mode::Migrate) {
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_WRITE_LOCK])?;
                }
                Ok(Txn::Pg(RefCell::new(PgTxn {
                    tx,
                    stmts: &mut p.stmts,
                })))
            }
        }
    }
}

/// `?N` placeholders (SQLite's) as `$N` (PostgreSQL's), outside quotes.
fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

impl PgTxn<'_> {
    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self.tx.prepare(&pg_placeholders(sql))?;
        self.stmts.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }
}

fn pg_args<'x>(args: &'x [Arg<'_>]) -> Vec<&'x (dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

impl Txn<'_> {
    pub fn engine(&self) -> Engine {
        match self {
            Txn::Lite(_) => Engine::Sqlite,
            Txn::Pg(_) => Engine::Postgres,
        }
    }

    /// Run a statement; returns the rows it changed.
    pub fn exec(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize> {
        match self {
            Txn::Lite(tx) => Ok(tx
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(args.iter()))?),
            Txn::Pg(tx) => {
                let mut tx = tx.borrow_mut();
                let stmt = tx.prepare(sql)?;
                let n = tx.tx.execute(&stmt, &pg_args(args))?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }

    /// Run statements that take no arguments (schema migrations).
    pub fn batch(&self, sql: &str) -> Result<()> {
        match self {
            Txn::Lite(tx) => Ok(tx.execute_batch(sql)?),
            Txn::Pg(tx) => Ok(tx.borrow_mut().tx.batch_execute(sql)?),
        }
    }

    /// The first row of a query, through `f`.
    pub fn row<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut f = Some(f);
        let mut out = None;
        self.each(sql, args, |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(false)
        })?;
        Ok(out)
    }

    /// Every row of a query, through `f`.
    pub fn rows<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.each(sql, args, |r| {
            out.push(f(r)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// Stream the rows of a query through `f` until it returns `false`.
    pub fn each(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<bool>,
    ) -> Result<()> {
        match self {
            Txn::Lite(tx) => {
                let mut stmt = tx.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
                while let Some(r) = rows.next()? {
                    if !f(&Row::Lite(r))? {
                        break;
                    }
                }
                Ok(())
            }
            Txn::Pg(tx) => {
                let mut tx = tx.borrow_mut();
                let stmt = tx.prepare(sql)?;
                let mut rows = tx.tx.query_raw(&stmt, args.iter())?;
                while let Some(r) = rows.next()? {
                    if !f(&Row::Pg(&r))? {
                        break;
                    }
                }
                Ok(())
            }
        }
    }

    /// Make the transaction's writes durable.
    pub fn commit(self) -> Result<()> {
        match self {
            Txn::Lite(tx) => Ok(tx.commit()?),
            Txn::Pg(tx) => Ok(tx.into_inner().tx.commit()?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pg_placeholders;

    #[test]
    fn placeholders_are_rewritten_outside_quotes_only() {
        assert_eq!(
            pg_placeholders("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d = ?10"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d = $10"
        );
    }
}
