//! Row-by-row inserts into MySQL/MariaDB as an ORM sends them (`barge bench`'s baselines):
//! INSERTs with the values spelled as SQL literals, as PyMySQL and Django's MySQL backend
//! send them, one row or up to 1000 a statement.

use crate::engine::mysql::connect::mysql_version;
use crate::engine::mysql::ddl::{create_table_sql, Server};
use crate::engine::mysql::read::quote_ident;
use crate::engine::mysql::write::{
    insert_head, push_row, send_insert, text_encoder, WRITER_SESSION,
};
use crate::engine::RowInserter;
use crate::error::{Context, Result};
use crate::plan::TablePlan;
use arrow_array::RecordBatch;
use bytes::BytesMut;
use mysql_async::prelude::Queryable;

/// Inserts into one database, replaced by `create_table`.
pub struct MysqlRows {
    conn: mysql_async::Conn,
    database: String,
}

impl MysqlRows {
    /// `conn`: a session that names no database (the bench's is created here).
    pub fn new(conn: mysql_async::Conn, database: &str) -> MysqlRows {
        MysqlRows {
            conn,
            database: database.to_string(),
        }
    }
}

#[async_trait::async_trait]
impl RowInserter for MysqlRows {
    async fn create_table(&mut self, plan: &TablePlan) -> Result<()> {
        let version = mysql_version(&mut self.conn).await?;
        let table = create_table_sql(
            &self.database,
            &plan.target,
            plan,
            true,
            Server::from_version(Some(&version)),
        )?;
        let db = quote_ident(&self.database);
        for sql in [
            format!("DROP DATABASE IF EXISTS {db}"),
            format!("CREATE DATABASE {db} CHARACTER SET utf8mb4"),
            WRITER_SESSION[0].to_string(),
            table,
        ] {
            self.conn
                .query_drop(&sql)
                .await
                .ctx("creating the bench table")?;
        }
        Ok(())
    }

    async fn begin(&mut self) -> Result<()> {
        self.conn
            .query_drop("START TRANSACTION")
            .await
            .ctx("START TRANSACTION")
    }

    async fn insert(
        &mut self,
        plan: &TablePlan,
        batch: &RecordBatch,
        per_statement: usize,
    ) -> Result<()> {
        let table = format!(
            "{}.{}",
            quote_ident(&self.database),
            quote_ident(&plan.target)
        );
        let head = insert_head(&table, plan);
        let encoder = text_encoder(plan, &batch.schema());
        let b = encoder.for_batch(batch)?;
        let mut sql = BytesMut::new();
        let n = batch.num_rows();
        let mut start = 0;
        while start < n {
            let end = (start + per_statement.max(1)).min(n);
            sql.clear();
            sql.extend_from_slice(head.as_bytes());
            for row in start..end {
                push_row(&b, row, row == start, &mut sql)?;
            }
            send_insert(&mut self.conn, plan, &sql).await?;
            start = end;
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<()> {
        self.conn.query_drop("COMMIT").await.ctx("COMMIT")
    }
}
