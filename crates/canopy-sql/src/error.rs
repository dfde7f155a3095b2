//! Errors from connecting to and querying the database.

use std::time::Duration;

/// What went wrong while serving a request against the database.
///
/// Every variant's message is written for the model that called the tool: it says what was
/// refused or failed and, where there is one, what to do instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The statement tried to change data or schema, and the database refused it.
    #[error(
        "refused: this server is read-only, and the database rejected the statement ({detail}). Only queries that read data can run here."
    )]
    ReadOnly {
        /// The database's own message.
        detail: String,
    },
    /// The text held more than one statement.
    #[error(
        "refused: send exactly one SQL statement per call ({detail}). Split the work into separate calls."
    )]
    MultipleStatements {
        /// The database's (or the SQLite lexer's) message.
        detail: String,
    },
    /// The statement ran longer than the statement timeout and the database stopped it.
    #[error(
        "the statement was stopped after the {} ms statement timeout. Narrow the query (filters, LIMIT, an index) or ask for a longer `timeout_ms` (the server allows at most {} ms).",
        .timeout.as_millis(),
        .max.as_millis()
    )]
    Timeout {
        /// The timeout that applied.
        timeout: Duration,
        /// The largest timeout the server allows.
        max: Duration,
    },
    /// The client cancelled the request; the statement was cancelled on the server.
    #[error("the query was cancelled")]
    Cancelled,
    /// No table has that name.
    #[error("no table or view named '{name}'{}", hint_suffix(.candidates))]
    UnknownTable {
        /// The name asked for.
        name: String,
        /// Close matches, if any.
        candidates: Vec<String>,
    },
    /// The name matched tables in more than one schema.
    #[error("'{name}' is ambiguous; qualify it with a schema: {}", .candidates.join(", "))]
    AmbiguousTable {
        /// The name asked for.
        name: String,
        /// The qualified names it matched.
        candidates: Vec<String>,
    },
    /// A parameter could not be bound.
    #[error("parameter ${index}: {reason}")]
    BadParameter {
        /// 1-based parameter number.
        index: usize,
        /// Why it could not be bound.
        reason: String,
    },
    /// The database rejected the statement for another reason (syntax, permissions, types…).
    #[error("the database returned an error: {message}")]
    Database {
        /// The database's message, with its SQLSTATE when there is one.
        message: String,
    },
    /// The connection or the pool failed.
    #[error("could not reach the database: {0}")]
    Connection(String),
    /// The server refuses to run with a role that can bypass read-only transactions.
    #[error("{0}")]
    UnsafeRole(String),
    /// Creating the bundled sample database failed.
    #[error("could not create the sample database at {path}: {reason}")]
    Sample {
        /// Where it was being created.
        path: String,
        /// What failed.
        reason: String,
    },
    /// A URL or option was not understood.
    #[error("{0}")]
    Config(String),
}

fn hint_suffix(candidates: &[String]) -> String {
    if candidates.is_empty() {
        " (call list_tables to see the tables)".to_string()
    } else {
        format!(" (did you mean: {}?)", candidates.join(", "))
    }
}

impl SqlError {
    /// Classifies an error from sqlx: read-only violations, multiple statements and timeouts
    /// get their own variants so the model can tell them apart.
    #[expect(
        clippy::needless_pass_by_value,
        reason = "used as `map_err(SqlError::from_sqlx)`"
    )]
    pub(crate) fn from_sqlx(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) => {
                let message = db.message().to_string();
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                // 25006: read_only_sql_transaction; SQLite 8: SQLITE_READONLY (and extended codes).
                let sqlite_readonly =
                    code == "8" || code.parse::<i32>().is_ok_and(|c| c & 0xff == 8);
                if code == "25006" || sqlite_readonly {
                    return SqlError::ReadOnly { detail: message };
                }
                if message.contains("cannot insert multiple commands into a prepared statement") {
                    return SqlError::MultipleStatements { detail: message };
                }
                let message = if code.is_empty() {
                    message
                } else if code.len() == 5 {
                    format!("{message} (SQLSTATE {code})")
                } else {
                    format!("{message} (error code {code})")
                };
                SqlError::Database { message }
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => SqlError::Connection(error.to_string()),
            _ => SqlError::Database {
                message: error.to_string(),
            },
        }
    }
}
