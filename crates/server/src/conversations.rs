//! Conversations, their messages and feedback, kept through sqlx in SQLite
//! (the embedded default) or PostgreSQL (several instances sharing one store).
//!
//! Both databases get the same schema from their own migrations
//! (`migrations/sqlite`, `migrations/postgres`) and the same SQL text: `$n`
//! parameters and `ON CONFLICT`, which both understand.
//!
//! A message stores the answer exactly as it was shown (sentences, citations
//! with their passage text, timings), so an old conversation reads the same
//! after its documents change or disappear.

use std::str::FromStr;
use std::time::Duration;

use footnote_answer::{Answer, AskResponse, Timings, Turn};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use utoipa::ToSchema;

/// The conversation store.
#[derive(Debug, Clone)]
pub struct Conversations {
    pool: Pool,
}

#[derive(Debug, Clone)]
enum Pool {
    /// SQLite lets many read while one writes. Writes go through a pool of one
    /// connection, so writers wait their turn in the pool, first come first
    /// served. Left to contend on SQLite's lock, they would retry after sleeps
    /// that grow to 100 ms: under load, a few answers in a hundred took that
    /// much longer to store than to find (docs/benchmarks.md, serving load).
    Sqlite { reads: SqlitePool, writes: SqlitePool },
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store reads from;
/// the body is compiled once per database.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            Pool::Sqlite { reads: $pool, .. } => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

/// Like [`on_pool!`], with the pool the store writes through.
macro_rules! on_writer {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            Pool::Sqlite { writes: $pool, .. } => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

/// A stored question and its answer, as it was shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub position: i64,
    #[serde(flatten)]
    pub response: AskResponse,
    pub created_at: String,
    /// The reader's vote on this answer, if any.
    pub feedback: Option<Rating>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Conversation {
    pub id: String,
    /// The title given to it, else its first question.
    pub title: String,
    pub created_at: String,
    /// The documents its questions are limited to; empty for all.
    pub documents: Vec<String>,
    pub messages: Vec<Message>,
}

/// A conversation as a list of them shows it: without its messages.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ConversationSummary {
    pub id: String,
    /// The title given to it, else its first question.
    pub title: String,
    pub created_at: String,
    /// When its latest message was stored.
    pub updated_at: String,
    /// How many questions it holds.
    pub messages: i64,
    /// The documents its questions are limited to; empty for all.
    pub documents: Vec<String>,
}

/// Who started a conversation and what it is limited to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConversationSettings {
    /// The browser that started it; `None` for the API without a browser
    /// cookie, and for Slack.
    pub owner: Option<String>,
    /// Only passages of these documents; empty for all.
    pub documents: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    Up,
    Down,
}

impl Rating {
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Up => "up",
            Rating::Down => "down",
        }
    }
}

impl FromStr for Rating {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "up" => Ok(Rating::Up),
            "down" => Ok(Rating::Down),
            other => Err(format!("rating must be \"up\" or \"down\", not {other:?}")),
        }
    }
}

/// What a message stores of an answer, as JSON (the question has its own column).
#[derive(Serialize, Deserialize)]
struct StoredAnswer {
    #[serde(flatten)]
    answer: Answer,
    timings_ms: Timings,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// The columns a [`Message`] is read from, in order.
type MessageRow = (String, i64, String, String, String, Option<String>);

impl Conversations {
    /// Opens the database at `url` (`sqlite:` or `postgres://`), creating a
    /// SQLite file when missing, and applies the migrations.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(Self::open_postgres(url).await?)
        } else if url.starts_with("sqlite:") {
            let (reads, writes) = Self::open_sqlite(url).await?;
            Pool::Sqlite { reads, writes }
        } else {
            anyhow::bail!("FOOTNOTE_DATABASE_URL must start with sqlite: or postgres://, not {:?}", redact(url));
        };
        let store = Conversations { pool };
        let migrated = match &store.pool {
            Pool::Sqlite { writes, .. } => SQLITE_MIGRATIONS.run(writes).await,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        };
        migrated.map_err(|e| anyhow::anyhow!("cannot migrate the conversation database {}: {e}", redact(url)))?;
        Ok(store)
    }

    /// The pools to read and to write a SQLite database through.
    async fn open_sqlite(url: &str) -> anyhow::Result<(SqlitePool, SqlitePool)> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("FOOTNOTE_DATABASE_URL {url:?} is not a SQLite URL: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL keeps the database consistent through a crash and
            // skips an fsync per answer; a power cut may lose the last answers.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let open = |connections| {
            SqlitePoolOptions::new().max_connections(connections).connect_with(options.clone())
        };
        let cannot_open = |e| anyhow::anyhow!("cannot open the conversation database {url}: {e}");
        // The writer first: it creates a missing file and switches it to WAL.
        let writes = open(1).await.map_err(cannot_open)?;
        let reads = open(8).await.map_err(cannot_open)?;
        Ok((reads, writes))
    }

    async fn open_postgres(url: &str) -> anyhow::Result<PgPool> {
        PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to the conversation database {}: {e}", redact(url)))
    }

    pub async fn ping(&self) -> sqlx::Result<()> {
        on_pool!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite { reads, writes } => {
                reads.close().await;
                writes.close().await;
            }
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    /// Earlier exchanges, oldest first, as context for a follow-up.
    pub async fn turns(&self, id: &str) -> sqlx::Result<Vec<Turn>> {
        if id.contains('\0') {
            return Ok(Vec::new());
        }
        let sql = "SELECT question, answer_text FROM messages WHERE conversation_id = $1 ORDER BY position";
        let rows: Vec<(String, String)> = on_pool!(self, |pool| sqlx::query_as(sql).bind(id).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|(question, answer)| Turn { question, answer }).collect())
    }

    /// Appends an answered question to a conversation, creating the
    /// conversation with `new` (its owner and limit) when it does not exist;
    /// one that exists keeps its own. Returns the message id.
    pub async fn add_message(&self, conversation_id: &str, response: &AskResponse, new: &ConversationSettings) -> sqlx::Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        let stored = StoredAnswer { answer: response.answer.clone(), timings_ms: response.timings_ms };
        let json = serde_json::to_string(&stored).expect("answers serialize");
        let create = "INSERT INTO conversations (id, owner, documents) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
        let (owner, documents) = (new.owner.as_deref().map(storable), stored_documents(&new.documents));
        let append = "INSERT INTO messages (id, conversation_id, position, question, answer_text, abstained, response)
             SELECT $1, $2, COALESCE(MAX(position) + 1, 0), $3, $4, $5, $6 FROM messages WHERE conversation_id = $2";
        // Appends to one conversation take their turns: PostgreSQL locks the
        // conversation's row for the transaction (instances may append to one
        // conversation at the same moment), and SQLite has one writer at a time.
        // Should two still pick one position, the loser takes the next.
        let lock = match self.pool {
            Pool::Postgres(_) => Some("SELECT id FROM conversations WHERE id = $1 FOR UPDATE"),
            Pool::Sqlite { .. } => None,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = on_writer!(self, |pool| {
                async {
                    let mut tx = pool.begin().await?;
                    sqlx::query(create).bind(conversation_id).bind(&owner).bind(&documents).execute(&mut *tx).await?;
                    if let Some(lock) = lock {
                        sqlx::query(lock).bind(conversation_id).execute(&mut *tx).await?;
                    }
                    sqlx::query(append)
                        .bind(&id)
                        .bind(conversation_id)
                        .bind(storable(&response.question))
                        .bind(storable(&response.answer.body.text))
                        .bind(response.answer.body.abstained)
                        .bind(&json)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await
                }
                .await
            });
            match result {
                Err(sqlx::Error::Database(error)) if error.is_unique_violation() && attempt < 5 => continue,
                result => return result.map(|_| id),
            }
        }
    }

    pub async fn conversation(&self, id: &str) -> sqlx::Result<Option<Conversation>> {
        if id.contains('\0') {
            return Ok(None);
        }
        let sql = format!("SELECT id, {TITLE}, created_at, documents FROM conversations c WHERE id = $1");
        type Row = (String, String, String, Option<String>);
        let found: Option<Row> =
            on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)?;
        let Some((id, title, created_at, documents)) = found else {
            return Ok(None);
        };
        let sql = "SELECT m.id, m.position, m.question, m.response, m.created_at, f.rating
             FROM messages m LEFT JOIN feedback f ON f.message_id = m.id
             WHERE m.conversation_id = $1 ORDER BY m.position";
        let rows: Vec<MessageRow> = on_pool!(self, |pool| sqlx::query_as(sql).bind(&id).fetch_all(pool).await)?;
        let messages = rows.into_iter().map(message_from_row).collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Some(Conversation { id, title, created_at, documents: document_list(documents)?, messages }))
    }

    /// Who started a conversation and what it is limited to; `None` when there is no such conversation.
    pub async fn settings(&self, id: &str) -> sqlx::Result<Option<ConversationSettings>> {
        if id.contains('\0') {
            return Ok(None);
        }
        let sql = "SELECT owner, documents FROM conversations WHERE id = $1";
        let found: Option<(Option<String>, Option<String>)> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        found.map(|(owner, documents)| Ok(ConversationSettings { owner, documents: document_list(documents)? })).transpose()
    }

    /// Limits a conversation's later questions to `documents` (all when empty).
    pub async fn set_documents(&self, id: &str, documents: &[String]) -> sqlx::Result<()> {
        let sql = "UPDATE conversations SET documents = $2 WHERE id = $1";
        let documents = stored_documents(documents);
        on_writer!(self, |pool| sqlx::query(sql).bind(id).bind(&documents).execute(pool).await.map(|_| ()))
    }

    /// The conversations `owner` started, the latest active first (at most
    /// [`LISTED_CONVERSATIONS`]). There is no way to list everyone's.
    pub async fn list(&self, owner: &str) -> sqlx::Result<Vec<ConversationSummary>> {
        self.summaries("c.owner = $1", owner).await
    }

    /// One conversation as a list shows it.
    pub async fn summary(&self, id: &str) -> sqlx::Result<Option<ConversationSummary>> {
        if id.contains('\0') {
            return Ok(None);
        }
        Ok(self.summaries("c.id = $1", id).await?.pop())
    }

    /// Conversations as lists show them, those `condition` (on `c`, with its
    /// one parameter `$1` bound to `value`) selects.
    async fn summaries(&self, condition: &str, value: &str) -> sqlx::Result<Vec<ConversationSummary>> {
        let sql = format!(
            "SELECT c.id, {TITLE}, c.created_at,
                COALESCE((SELECT MAX(created_at) FROM messages WHERE conversation_id = c.id), c.created_at) AS updated_at,
                (SELECT COUNT(*) FROM messages WHERE conversation_id = c.id), c.documents
             FROM conversations c WHERE {condition} ORDER BY updated_at DESC, c.id LIMIT {LISTED_CONVERSATIONS}"
        );
        type Row = (String, String, String, String, i64, Option<String>);
        let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(storable(value)).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(id, title, created_at, updated_at, messages, documents)| {
                Ok(ConversationSummary { id, title, created_at, updated_at, messages, documents: document_list(documents)? })
            })
            .collect()
    }

    /// Gives a conversation a title; `None` goes back to its first question.
    /// False when there is no such conversation.
    pub async fn rename(&self, id: &str, title: Option<&str>) -> sqlx::Result<bool> {
        if id.contains('\0') {
            return Ok(false);
        }
        let sql = "UPDATE conversations SET title = $2 WHERE id = $1";
        let title = title.map(storable);
        let affected = on_writer!(self, |pool| sqlx::query(sql).bind(id).bind(title).execute(pool).await?.rows_affected());
        Ok(affected > 0)
    }

    /// Deletes a conversation with its messages, their feedback and the Slack
    /// thread pointing at it. False when there is no such conversation.
    pub async fn delete(&self, id: &str) -> sqlx::Result<bool> {
        if id.contains('\0') {
            return Ok(false);
        }
        let sql = "DELETE FROM conversations WHERE id = $1";
        let affected = on_writer!(self, |pool| sqlx::query(sql).bind(id).execute(pool).await?.rows_affected());
        Ok(affected > 0)
    }

    /// One message and the conversation it belongs to.
    pub async fn message(&self, id: &str) -> sqlx::Result<Option<(String, Message)>> {
        if id.contains('\0') {
            return Ok(None);
        }
        let sql = "SELECT m.conversation_id, m.id, m.position, m.question, m.response, m.created_at, f.rating
             FROM messages m LEFT JOIN feedback f ON f.message_id = m.id WHERE m.id = $1";
        type Row = (String, String, i64, String, String, String, Option<String>);
        let found: Option<Row> = on_pool!(self, |pool| sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        found
            .map(|(conversation, id, position, question, response, created_at, rating)| {
                Ok((conversation, message_from_row((id, position, question, response, created_at, rating))?))
            })
            .transpose()
    }

    /// Records a vote on a message, replacing an earlier one. False when there
    /// is no such message.
    pub async fn record_feedback(&self, message_id: &str, rating: Rating, comment: Option<&str>) -> sqlx::Result<bool> {
        if message_id.contains('\0') {
            return Ok(false);
        }
        let comment = comment.map(storable);
        let sql = "INSERT INTO feedback (message_id, rating, comment) SELECT id, $2, $3 FROM messages WHERE id = $1
             ON CONFLICT (message_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment,
             created_at = excluded.created_at";
        let affected = on_writer!(self, |pool| {
            sqlx::query(sql).bind(message_id).bind(rating.as_str()).bind(comment).execute(pool).await?.rows_affected()
        });
        Ok(affected > 0)
    }
}

/// Conversations a list shows at most.
pub const LISTED_CONVERSATIONS: usize = 200;

/// A conversation's title in SQL (the conversation is `c`): the one given,
/// else its first question.
const TITLE: &str = "COALESCE(c.title, (SELECT question FROM messages WHERE conversation_id = c.id ORDER BY position LIMIT 1), '')";

/// The `documents` column: a JSON array, NULL for all documents.
fn stored_documents(documents: &[String]) -> Option<String> {
    let documents: Vec<String> = documents.iter().map(|d| storable(d).into_owned()).collect();
    (!documents.is_empty()).then(|| serde_json::to_string(&documents).expect("strings serialize"))
}

fn document_list(column: Option<String>) -> sqlx::Result<Vec<String>> {
    column.map_or(Ok(Vec::new()), |json| serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e))))
}

/// PostgreSQL's text cannot hold a NUL character (SQLite's can), so no id
/// with one exists and text loses it when stored, on both stores alike. The
/// JSON of a stored answer needs nothing: serde writes a NUL as `\u0000`.
fn storable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') { text.replace('\0', "").into() } else { text.into() }
}

/// The Slack adapter's records: threads as conversations, and deliveries
/// already taken.
impl Conversations {
    /// The conversation a Slack thread belongs to, if it has one.
    pub async fn slack_thread(&self, channel: &str, thread_ts: &str) -> sqlx::Result<Option<String>> {
        let sql = "SELECT conversation_id FROM slack_threads WHERE channel = $1 AND thread_ts = $2";
        on_pool!(self, |pool| sqlx::query_scalar(sql).bind(channel).bind(thread_ts).fetch_optional(pool).await)
    }

    /// Makes a thread belong to a (stored) conversation; a thread keeps the
    /// first conversation it was given.
    pub async fn link_slack_thread(&self, channel: &str, thread_ts: &str, conversation_id: &str) -> sqlx::Result<()> {
        let sql = "INSERT INTO slack_threads (channel, thread_ts, conversation_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
        on_writer!(self, |pool| sqlx::query(sql).bind(channel).bind(thread_ts).bind(conversation_id).execute(pool).await.map(|_| ()))
    }

    /// True the first time `key` is seen, false for every repeat. Keys older
    /// than a day are forgotten: Slack stops retrying long before.
    pub async fn first_slack_delivery(&self, key: &str) -> sqlx::Result<bool> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let forget = "DELETE FROM slack_deliveries WHERE received_at < $1";
        let remember = "INSERT INTO slack_deliveries (key, received_at) VALUES ($1, $2) ON CONFLICT DO NOTHING";
        let inserted = on_writer!(self, |pool| {
            sqlx::query(forget).bind(now - 24 * 60 * 60).execute(pool).await?;
            sqlx::query(remember).bind(key).bind(now).execute(pool).await?.rows_affected()
        });
        Ok(inserted == 1)
    }
}

fn message_from_row((id, position, question, response, created_at, rating): MessageRow) -> sqlx::Result<Message> {
    let stored: StoredAnswer = serde_json::from_str(&response).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Message {
        id,
        position,
        response: AskResponse { question, answer: stored.answer, timings_ms: stored.timings_ms, ranked: Vec::new() },
        created_at,
        feedback: rating.and_then(|r| r.parse().ok()),
    })
}

/// A database URL with its password masked, for messages.
fn redact(url: &str) -> String {
    crate::config::mask_url_password(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use footnote_answer::{AnswerBody, Confidence};

    fn response(question: &str, text: &str) -> AskResponse {
        AskResponse {
            question: question.into(),
            answer: Answer {
                body: AnswerBody { text: text.into(), ..AnswerBody::default() },
                citations: Vec::new(),
                confidence: Confidence { dense: 0.5, coverage: 0.5, passage_support: None, sentence_support: None, score: 0.5 },
            },
            timings_ms: Timings::default(),
            ranked: Vec::new(),
        }
    }

    /// A fresh PostgreSQL database, made from `FOOTNOTE_TEST_POSTGRES_URL`
    /// (scripts/test.sh starts a server and sets it), or `None` without one.
    async fn postgres_database() -> Option<String> {
        let Ok(url) = std::env::var("FOOTNOTE_TEST_POSTGRES_URL") else {
            eprintln!("FOOTNOTE_TEST_POSTGRES_URL is not set: the PostgreSQL run of this test is skipped");
            return None;
        };
        let admin = PgPool::connect(&url).await.unwrap_or_else(|error| {
            panic!("FOOTNOTE_TEST_POSTGRES_URL={url:?} does not reach a PostgreSQL server: {error}")
        });
        let name = format!("footnote_test_{}", uuid::Uuid::new_v4().simple());
        // The name is ours (a UUID), not input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("the test role may create databases");
        admin.close().await;
        let (server, _) = url.rsplit_once('/').expect("the URL names a database");
        Some(format!("{server}/{name}"))
    }

    /// Runs a store test on SQLite, then on PostgreSQL when there is one:
    /// both backends must behave the same.
    async fn on_every_database<F, Fut>(test: F)
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let dir = tempfile::tempdir().unwrap();
        test(format!("sqlite://{}", dir.path().join("f.db").display())).await;
        if let Some(url) = postgres_database().await {
            test(url).await;
        }
    }

    /// PostgreSQL refuses a NUL in text; both stores must take it alike.
    #[tokio::test]
    async fn a_nul_in_text_or_an_id_is_neither_an_error_nor_a_difference_between_stores() {
        on_every_database(|url| async move {
            let store = Conversations::open(&url).await.unwrap();
            let message = store.add_message("c1", &response("wh\0y?", "Be\0cause. [1]"), &ConversationSettings::default()).await.unwrap();
            assert_eq!(store.turns("c1").await.unwrap()[0].question, "why?", "{url}");
            assert_eq!(store.turns("c1").await.unwrap()[0].answer, "Because. [1]", "{url}");
            assert!(store.record_feedback(&message, Rating::Up, Some("fine\0")).await.unwrap(), "{url}");
            assert!(store.settings("c1\0").await.unwrap().is_none());
            assert!(store.turns("c1\0").await.unwrap().is_empty());
            assert!(store.conversation("c1\0").await.unwrap().is_none());
            assert!(store.message("m\0").await.unwrap().is_none());
            assert!(!store.record_feedback("m\0", Rating::Down, None).await.unwrap());
            store.close().await;
        })
        .await;
    }

    #[tokio::test]
    async fn messages_keep_their_order_and_feedback_survives_a_reopen() {
        on_every_database(|url| async move {
            let store = Conversations::open(&url).await.unwrap();
            let first = store.add_message("c1", &response("why?", "Because. [1]"), &ConversationSettings::default()).await.unwrap();
            store.add_message("c1", &response("and then?", "Then. [1]"), &ConversationSettings::default()).await.unwrap();
            assert!(store.record_feedback(&first, Rating::Down, None).await.unwrap());
            assert!(store.record_feedback(&first, Rating::Up, Some("clear")).await.unwrap());
            assert!(!store.record_feedback("no-such-message", Rating::Up, None).await.unwrap());
            store.close().await;

            let store = Conversations::open(&url).await.unwrap();
            let conversation = store.conversation("c1").await.unwrap().unwrap();
            let questions: Vec<&str> = conversation.messages.iter().map(|m| m.response.question.as_str()).collect();
            assert_eq!(questions, ["why?", "and then?"], "{url}");
            assert_eq!(conversation.messages[0].feedback, Some(Rating::Up));
            assert!(conversation.created_at.ends_with('Z') && conversation.created_at.contains('T'), "{}", conversation.created_at);
            assert_eq!(store.turns("c1").await.unwrap()[1].answer, "Then. [1]");
            let (in_conversation, message) = store.message(&first).await.unwrap().unwrap();
            assert_eq!((in_conversation.as_str(), message.position), ("c1", 0));
            assert!(store.conversation("c2").await.unwrap().is_none());
            assert!(store.settings("c1").await.unwrap().is_some() && store.settings("c2").await.unwrap().is_none());
            store.close().await;
        })
        .await;
    }

    #[tokio::test]
    async fn answers_appended_at_once_each_get_their_own_place() {
        on_every_database(|url| async move {
            let store = Conversations::open(&url).await.unwrap();
            let appends = (0..24).map(|i| {
                let store = store.clone();
                async move { store.add_message("busy", &response(&format!("q{i}"), "a"), &ConversationSettings::default()).await.unwrap() }
            });
            futures_util::future::join_all(appends).await;
            let conversation = store.conversation("busy").await.unwrap().unwrap();
            let positions: Vec<i64> = conversation.messages.iter().map(|m| m.position).collect();
            assert_eq!(positions, (0..24).collect::<Vec<_>>(), "{url}");
            store.close().await;
        })
        .await;
    }

    #[tokio::test]
    async fn slack_threads_and_deliveries_are_remembered() {
        on_every_database(|url| async move {
            let store = Conversations::open(&url).await.unwrap();
            assert!(store.first_slack_delivery("event:Ev1").await.unwrap());
            assert!(!store.first_slack_delivery("event:Ev1").await.unwrap(), "{url}");
            store.add_message("c1", &response("why?", "Because. [1]"), &ConversationSettings::default()).await.unwrap();
            assert_eq!(store.slack_thread("C1", "1.1").await.unwrap(), None);
            store.link_slack_thread("C1", "1.1", "c1").await.unwrap();
            store.link_slack_thread("C1", "1.1", "c1").await.unwrap();
            assert_eq!(store.slack_thread("C1", "1.1").await.unwrap().as_deref(), Some("c1"));
            store.close().await;
        })
        .await;
    }

    #[tokio::test]
    async fn a_browser_lists_only_its_own_conversations_which_it_can_rename_and_delete() {
        on_every_database(|url| async move {
            let store = Conversations::open(&url).await.unwrap();
            let mine = ConversationSettings { owner: Some("browser-a".into()), documents: vec!["report.pdf".into()] };
            let first = store.add_message("c1", &response("Who built the dam?", "Engineers. [1]"), &mine).await.unwrap();
            // A conversation keeps who started it and its limit.
            store.add_message("c1", &response("When?", "In 1931. [1]"), &ConversationSettings::default()).await.unwrap();
            store.record_feedback(&first, Rating::Up, None).await.unwrap();
            // Timestamps count milliseconds: c2's message is the later one.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let a = ConversationSettings { owner: Some("browser-a".into()), documents: vec![] };
            store.add_message("c2", &response("Why the lake?", "Salt. [1]"), &a).await.unwrap();
            let b = ConversationSettings { owner: Some("browser-b".into()), documents: vec![] };
            store.add_message("theirs", &response("Other?", "Yes. [1]"), &b).await.unwrap();
            store.add_message("api", &response("No owner?", "None. [1]"), &ConversationSettings::default()).await.unwrap();

            let listed = store.list("browser-a").await.unwrap();
            let shown: Vec<(&str, &str, i64)> = listed.iter().map(|c| (c.id.as_str(), c.title.as_str(), c.messages)).collect();
            assert_eq!(shown, [("c2", "Why the lake?", 1), ("c1", "Who built the dam?", 2)], "{url}: latest first, titled by the first question");
            assert_eq!(listed[1].documents, ["report.pdf"]);
            assert_eq!(store.settings("c1").await.unwrap(), Some(mine.clone()));
            assert_eq!(store.settings("api").await.unwrap(), Some(ConversationSettings::default()));
            assert_eq!(store.settings("none").await.unwrap(), None);

            assert!(store.rename("c1", Some("The dam")).await.unwrap());
            assert_eq!(store.summary("c1").await.unwrap().map(|c| c.title).as_deref(), Some("The dam"));
            assert_eq!(store.summary("none").await.unwrap(), None);
            assert!(!store.rename("none", Some("x")).await.unwrap());
            assert_eq!(store.conversation("c1").await.unwrap().unwrap().title, "The dam");
            store.set_documents("c1", &[]).await.unwrap();
            assert!(store.conversation("c1").await.unwrap().unwrap().documents.is_empty());

            assert!(store.delete("c1").await.unwrap(), "{url}");
            assert!(!store.delete("c1").await.unwrap());
            assert!(store.conversation("c1").await.unwrap().is_none());
            assert!(store.message(&first).await.unwrap().is_none(), "{url}: its messages go with it");
            assert!(!store.record_feedback(&first, Rating::Down, None).await.unwrap());
            let left: Vec<String> = store.list("browser-a").await.unwrap().into_iter().map(|c| c.id).collect();
            assert_eq!(left, ["c2"]);
            assert_eq!(store.list("browser-b").await.unwrap().len(), 1);
            store.close().await;
        })
        .await;
    }

    #[tokio::test]
    async fn a_database_url_of_another_kind_is_refused_by_name() {
        let error = Conversations::open("mysql://fn:secret@db/fn").await.unwrap_err().to_string();
        assert!(error.contains("must start with sqlite: or postgres://") && !error.contains("secret"), "{error}");
    }
}
