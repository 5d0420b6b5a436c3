//! What can go wrong in the application, in its own terms. Each adapter maps
//! these to what its peer understands: the HTTP API to problem+json statuses,
//! the page to a page, Slack to a notice or an apology.

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The question cannot be asked (empty, too long).
    #[error("{0}")]
    InvalidQuestion(String),
    /// Some other part of a request breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// A document in a format footnote does not read.
    #[error("{0}")]
    UnsupportedFormat(String),
    /// The caller may not do this to what it names (another browser's conversation).
    #[error("{0}")]
    Forbidden(String),
    #[error("no {what} with id {id:?}")]
    NotFound { what: &'static str, id: String },
    /// A part the service depends on does not answer.
    #[error("{0}")]
    Unavailable(String),
    #[error("the server failed to handle the request")]
    Internal(#[source] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        AppError::Internal(error.into())
    }
}

impl From<footnote_index::Error> for AppError {
    fn from(error: footnote_index::Error) -> Self {
        AppError::Internal(error.into())
    }
}

impl From<footnote_answer::AskError> for AppError {
    fn from(error: footnote_answer::AskError) -> Self {
        AppError::Internal(error.into())
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(error: tokio::task::JoinError) -> Self {
        AppError::Internal(error.into())
    }
}
