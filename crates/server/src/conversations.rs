//! Conversations, their messages and feedback, kept in SQLite through sqlx.
//!
//! A message stores the answer exactly as it was shown (sentences, citations
//! with their passage text, timings), so an old conversation reads the same
//! after its documents change or disappear.

use std::str::FromStr;
use std::time::Duration;

use footnote_answer::{AnswerBody, AskResponse, Citation, Confidence, Timings, Turn};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use utoipa::ToSchema;

/// The conversation store.
#[derive(Debug, Clone)]
pub struct Conversations {
    pool: SqlitePool,
}

/// A stored question and its answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub position: i64,
    pub question: String,
    pub answer: AnswerBody,
    pub citations: Vec<Citation>,
    pub confidence: Confidence,
    pub timings_ms: Timings,
    pub created_at: String,
    /// The reader's vote on this answer, if any.
    pub feedback: Option<Rating>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Conversation {
    pub id: String,
    pub created_at: String,
    pub messages: Vec<Message>,
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

/// What a message stores of an answer, as JSON.
#[derive(Serialize, Deserialize)]
struct StoredAnswer {
    answer: AnswerBody,
    citations: Vec<Citation>,
    confidence: Confidence,
    timings_ms: Timings,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

impl Conversations {
    /// Opens (creating when missing) the database at `url` and applies the migrations.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("FOOTNOTE_DATABASE_URL {url:?} is not a SQLite URL: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL keeps the database consistent through a crash and
            // skips an fsync per answer; a power cut may lose the last answers.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the conversation database {url}: {e}"))?;
        MIGRATOR.run(&pool).await.map_err(|e| anyhow::anyhow!("cannot migrate the conversation database {url}: {e}"))?;
        Ok(Conversations { pool })
    }

    pub async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn exists(&self, id: &str) -> sqlx::Result<bool> {
        let row = sqlx::query("SELECT 1 FROM conversations WHERE id = ?").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.is_some())
    }

    /// Earlier exchanges, oldest first, as context for a follow-up.
    pub async fn turns(&self, id: &str) -> sqlx::Result<Vec<Turn>> {
        let rows = sqlx::query("SELECT question, answer_text FROM messages WHERE conversation_id = ? ORDER BY position")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|row| Turn { question: row.get(0), answer: row.get(1) }).collect())
    }

    /// Appends an answered question to a conversation, creating the
    /// conversation when it is new. Returns the message id.
    pub async fn add_message(&self, conversation_id: &str, response: &AskResponse) -> sqlx::Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        let stored = StoredAnswer {
            answer: response.answer.clone(),
            citations: response.citations.clone(),
            confidence: response.confidence,
            timings_ms: response.timings_ms,
        };
        let json = serde_json::to_string(&stored).expect("answers serialize");
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT OR IGNORE INTO conversations (id) VALUES (?)").bind(conversation_id).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, position, question, answer_text, abstained, response)
             SELECT ?1, ?2, COALESCE(MAX(position) + 1, 0), ?3, ?4, ?5, ?6 FROM messages WHERE conversation_id = ?2",
        )
        .bind(&id)
        .bind(conversation_id)
        .bind(&response.question)
        .bind(&response.answer.text)
        .bind(response.answer.abstained)
        .bind(json)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn conversation(&self, id: &str) -> sqlx::Result<Option<Conversation>> {
        let Some(row) = sqlx::query("SELECT id, created_at FROM conversations WHERE id = ?").bind(id).fetch_optional(&self.pool).await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT m.id, m.position, m.question, m.response, m.created_at, f.rating
             FROM messages m LEFT JOIN feedback f ON f.message_id = m.id
             WHERE m.conversation_id = ? ORDER BY m.position",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let messages = rows.iter().map(message_from_row).collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Some(Conversation { id: row.get(0), created_at: row.get(1), messages }))
    }

    /// One message and the conversation it belongs to.
    pub async fn message(&self, id: &str) -> sqlx::Result<Option<(String, Message)>> {
        let row = sqlx::query(
            "SELECT m.id, m.position, m.question, m.response, m.created_at, f.rating, m.conversation_id
             FROM messages m LEFT JOIN feedback f ON f.message_id = m.id WHERE m.id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((row.get(6), message_from_row(&row)?))).transpose()
    }

    /// Records a vote on a message, replacing an earlier one. False when there
    /// is no such message.
    pub async fn record_feedback(&self, message_id: &str, rating: Rating, comment: Option<&str>) -> sqlx::Result<bool> {
        let result = sqlx::query(
            "INSERT INTO feedback (message_id, rating, comment) SELECT id, ?2, ?3 FROM messages WHERE id = ?1
             ON CONFLICT (message_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment,
             created_at = excluded.created_at",
        )
        .bind(message_id)
        .bind(rating.as_str())
        .bind(comment)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }
}

/// The Slack adapter's records: threads as conversations, and deliveries
/// already taken.
impl Conversations {
    /// The conversation a Slack thread belongs to, if it has one.
    pub async fn slack_thread(&self, channel: &str, thread_ts: &str) -> sqlx::Result<Option<String>> {
        sqlx::query_scalar("SELECT conversation_id FROM slack_threads WHERE channel = ? AND thread_ts = ?")
            .bind(channel)
            .bind(thread_ts)
            .fetch_optional(&self.pool)
            .await
    }

    /// Makes a thread belong to a (stored) conversation; a thread keeps the
    /// first conversation it was given.
    pub async fn link_slack_thread(&self, channel: &str, thread_ts: &str, conversation_id: &str) -> sqlx::Result<()> {
        sqlx::query("INSERT OR IGNORE INTO slack_threads (channel, thread_ts, conversation_id) VALUES (?, ?, ?)")
            .bind(channel)
            .bind(thread_ts)
            .bind(conversation_id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// True the first time `key` is seen, false for every repeat. Keys older
    /// than a day are forgotten: Slack stops retrying long before.
    pub async fn first_slack_delivery(&self, key: &str) -> sqlx::Result<bool> {
        sqlx::query("DELETE FROM slack_deliveries WHERE received_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')")
            .execute(&self.pool)
            .await?;
        let result = sqlx::query("INSERT OR IGNORE INTO slack_deliveries (key) VALUES (?)").bind(key).execute(&self.pool).await?;
        Ok(result.rows_affected() == 1)
    }
}

fn message_from_row(row: &sqlx::sqlite::SqliteRow) -> sqlx::Result<Message> {
    let json: String = row.try_get(3)?;
    let stored: StoredAnswer = serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let rating: Option<String> = row.try_get(5)?;
    Ok(Message {
        id: row.try_get(0)?,
        position: row.try_get(1)?,
        question: row.try_get(2)?,
        answer: stored.answer,
        citations: stored.citations,
        confidence: stored.confidence,
        timings_ms: stored.timings_ms,
        created_at: row.try_get(4)?,
        feedback: rating.and_then(|r| r.parse().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(question: &str, text: &str) -> AskResponse {
        AskResponse {
            question: question.into(),
            answer: AnswerBody { text: text.into(), abstained: false, sentences: Vec::new() },
            citations: Vec::new(),
            confidence: Confidence { dense: 0.5, coverage: 0.5, score: 0.5 },
            timings_ms: Timings::default(),
            ranked: Vec::new(),
        }
    }

    #[tokio::test]
    async fn messages_keep_their_order_and_feedback_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("f.db").display());
        let store = Conversations::open(&url).await.unwrap();
        let first = store.add_message("c1", &response("why?", "Because. [1]")).await.unwrap();
        store.add_message("c1", &response("and then?", "Then. [1]")).await.unwrap();
        assert!(store.record_feedback(&first, Rating::Down, None).await.unwrap());
        assert!(store.record_feedback(&first, Rating::Up, Some("clear")).await.unwrap());
        assert!(!store.record_feedback("no-such-message", Rating::Up, None).await.unwrap());
        store.close().await;

        let store = Conversations::open(&url).await.unwrap();
        let conversation = store.conversation("c1").await.unwrap().unwrap();
        let questions: Vec<&str> = conversation.messages.iter().map(|m| m.question.as_str()).collect();
        assert_eq!(questions, ["why?", "and then?"]);
        assert_eq!(conversation.messages[0].feedback, Some(Rating::Up));
        assert_eq!(store.turns("c1").await.unwrap()[1].answer, "Then. [1]");
        assert!(store.conversation("c2").await.unwrap().is_none());
    }
}
