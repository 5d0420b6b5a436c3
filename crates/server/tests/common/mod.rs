//! What the HTTP tests share: `footnote serve` started on a random local port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running `footnote serve`, stopped with SIGTERM when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(data, extra, &[])
    }

    /// Starts with extra environment variables; everything else that could
    /// leak in from the caller's environment is removed.
    pub fn start_with_env(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let model = std::env::var_os("FOOTNOTE_MODEL_DIR").expect("FOOTNOTE_MODEL_DIR must be set (scripts/test.sh sets it)");
        let mut child = Command::new(env!("CARGO_BIN_EXE_footnote"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .env("FOOTNOTE_DATA_DIR", data)
            .env("FOOTNOTE_MODEL_DIR", model)
            .env("FOOTNOTE_SEEDS", repo().join("seeds"))
            .env_remove("FOOTNOTE_ADMIN_TOKEN")
            .env_remove("FOOTNOTE_DATABASE_URL")
            .env_remove("FOOTNOTE_RATE_LIMIT")
            .env_remove("FOOTNOTE_EMBEDDING_SESSIONS")
            .env_remove("FOOTNOTE_CONFIG")
            .env_remove("FOOTNOTE_QDRANT_URL")
            .env_remove("FOOTNOTE_QDRANT_API_KEY")
            .env_remove("FOOTNOTE_QDRANT_COLLECTION")
            .env_remove("FOOTNOTE_LLM_URL")
            .env_remove("FOOTNOTE_LLM_MODEL")
            .env_remove("FOOTNOTE_LLM_API_KEY")
            .env_remove("SLACK_SIGNING_SECRET")
            .env_remove("SLACK_BOT_TOKEN")
            .env_remove("SLACK_APP_TOKEN")
            .env_remove("SLACK_API_URL")
            .env_remove("SLACK_COMMAND")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .expect("footnote starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("footnote is serving on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Server { child, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then wait: the server finishes what is in flight and exits 0.
    pub fn stop(mut self) {
        terminate(&self.child);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "serve exited with {status}");
        std::mem::forget(self);
    }
}

fn terminate(child: &Child) {
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        terminate(&self.child);
        let _ = self.child.wait();
    }
}

/// Parses a `text/event-stream` body into (event, data) pairs.
pub fn server_sent_events(body: &str) -> Vec<(String, serde_json::Value)> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .filter_map(|block| {
            let mut name = "message".to_string();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            (!data.is_empty()).then(|| (name, serde_json::from_str(&data).unwrap()))
        })
        .collect()
}

/// A real llama.cpp `llama-server` with SmolLM2-135M-Instruct on a free
/// loopback port, stopped when dropped. scripts/llm-server.sh builds both
/// once per machine and scripts/test.sh sets the two variables naming them.
pub struct LlamaServer {
    child: Child,
    pub base_url: String,
}

impl LlamaServer {
    pub fn start() -> LlamaServer {
        let binary = std::env::var("FOOTNOTE_TEST_LLAMA_SERVER")
            .expect("FOOTNOTE_TEST_LLAMA_SERVER must name llama-server (scripts/llm-server.sh builds it; scripts/test.sh sets it)");
        let model = std::env::var("FOOTNOTE_TEST_LLM_MODEL")
            .expect("FOOTNOTE_TEST_LLM_MODEL must name the SmolLM2 GGUF file (scripts/llm-server.sh installs it; scripts/test.sh sets it)");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(binary)
            .args(["-m", &model, "--host", "127.0.0.1", "--port", &port.to_string(), "--ctx-size", "4096", "--parallel", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("llama-server starts");
        let server = LlamaServer { child, base_url: format!("http://127.0.0.1:{port}/v1") };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let healthy = std::net::TcpStream::connect(("127.0.0.1", port)).ok().and_then(|mut stream| {
                use std::io::{Read, Write};
                stream.write_all(b"GET /health HTTP/1.0\r\n\r\n").ok()?;
                let mut reply = String::new();
                stream.read_to_string(&mut reply).ok()?;
                reply.starts_with("HTTP/1.1 200").then_some(())
            });
            if healthy.is_some() {
                return server;
            }
            assert!(std::time::Instant::now() < deadline, "llama-server did not become healthy within 120 s");
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    // The server's reqwest runs rustls without a default provider (ring is chosen
    // explicitly, not aws-lc), and the tests share that build.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}


/// A fresh PostgreSQL database made from `FOOTNOTE_TEST_POSTGRES_URL`
/// (scripts/test.sh starts a server and sets it), or `None`, said aloud, without one.
pub async fn postgres_database() -> Option<String> {
    let Ok(url) = std::env::var("FOOTNOTE_TEST_POSTGRES_URL") else {
        eprintln!("FOOTNOTE_TEST_POSTGRES_URL is not set: this PostgreSQL test is skipped");
        return None;
    };
    let admin = sqlx::PgPool::connect(&url).await.unwrap_or_else(|error| {
        panic!("FOOTNOTE_TEST_POSTGRES_URL={url:?} does not reach a PostgreSQL server: {error}")
    });
    let name = format!("footnote_test_{}", uuid::Uuid::new_v4().simple());
    // The name is ours (a UUID), not input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("the test role may create databases");
    admin.close().await;
    let (server, _) = url.rsplit_once('/').expect("the URL names a database");
    Some(format!("{server}/{name}"))
}
