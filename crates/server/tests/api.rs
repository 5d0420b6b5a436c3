//! The HTTP API over real HTTP: `footnote serve` on a random local port with a
//! temporary data directory, the real model, Qdrant Edge and SQLite.

mod common;
use footnote_qdrant_standin as qdrant_standin;

use common::{Server, client, server_sent_events};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;

const TOKEN: &str = "test-admin-token";

async fn post_json(server: &Server, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = client().post(server.url(path)).json(body).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get_json(server: &Server, path: &str) -> (StatusCode, Value) {
    let response = client().get(server.url(path)).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn assert_problem(status: StatusCode, body: &Value, expected: u16, detail_has: &str) {
    assert_eq!(status.as_u16(), expected, "{body:#}");
    assert_eq!(body["status"], expected, "{body:#}");
    assert!(body["type"].as_str().unwrap().starts_with("urn:footnote:problem:"), "{body:#}");
    assert!(body["title"].is_string());
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(detail_has), "{detail:?} does not mention {detail_has:?}");
}

#[tokio::test]
async fn ask_answers_with_footnotes_and_a_follow_up_keeps_the_conversation() {
    let data = TempDir::new().unwrap();
    let server = Server::start(data.path(), &["--rate-limit", "0"]);
    let (status, first) = post_json(&server, "/api/v1/ask", &json!({ "question": "why did Tokayev call early elections?" })).await;
    assert_eq!(status, StatusCode::OK, "{first:#}");
    for key in ["question", "answer", "citations", "timings_ms", "conversation_id", "message_id"] {
        assert!(!first[key].is_null(), "{key} missing: {first:#}");
    }
    assert_eq!(first["answer"]["abstained"], false);
    assert!(first["answer"]["text"].as_str().unwrap().contains("[1]"));
    let conversation = first["conversation_id"].as_str().unwrap();

    let (status, follow_up) =
        post_json(&server, "/api/v1/ask", &json!({ "question": "and in 2019?", "conversation_id": conversation })).await;
    assert_eq!(status, StatusCode::OK, "{follow_up:#}");
    assert_eq!(follow_up["conversation_id"], conversation);
    let cited: String = follow_up["citations"].as_array().unwrap().iter().map(|c| c["text"].as_str().unwrap()).collect();
    assert!(cited.contains("2019"), "the follow-up lost its context: {follow_up:#}");

    let (status, stored) = get_json(&server, &format!("/api/v1/conversations/{conversation}")).await;
    assert_eq!(status, StatusCode::OK);
    let messages = stored["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["question"], "why did Tokayev call early elections?");
    assert_eq!(messages[0]["citations"], first["citations"], "citations are stored as shown");
    assert_eq!(messages[1]["id"], follow_up["message_id"]);

    // Feedback on an answer, a replaced vote, and its errors.
    let message = first["message_id"].as_str().unwrap();
    let (status, _) = post_json(&server, "/api/v1/feedback", &json!({ "message_id": message, "rating": "down" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = post_json(&server, "/api/v1/feedback", &json!({ "message_id": message, "rating": "up", "comment": "clear" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, stored) = get_json(&server, &format!("/api/v1/conversations/{conversation}")).await;
    assert_eq!(stored["messages"][0]["feedback"], "up");
    let (status, body) = post_json(&server, "/api/v1/feedback", &json!({ "message_id": message, "rating": "meh" })).await;
    assert_problem(status, &body, 422, "rating");
    let (status, body) = post_json(&server, "/api/v1/feedback", &json!({ "message_id": "nope", "rating": "up" })).await;
    assert_problem(status, &body, 404, "nope");

    // An out-of-scope question abstains without citations.
    let (_, abstained) = post_json(&server, "/api/v1/ask", &json!({ "question": "What is the capital of France?" })).await;
    assert_eq!(abstained["answer"]["abstained"], true);
    assert!(abstained["citations"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn streaming_sends_sources_then_text_then_the_whole_answer() {
    let data = TempDir::new().unwrap();
    let server = Server::start(data.path(), &["--rate-limit", "0"]);
    let response = client()
        .post(server.url("/api/v1/ask"))
        .header("Accept", "text/event-stream")
        .json(&json!({ "question": "why did Tokayev call early elections?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let events = server_sent_events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"sources"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    assert!(names[1..names.len() - 1].iter().all(|n| *n == "text") && names.len() >= 3, "{names:?}");
    let done = &events.last().unwrap().1;
    let streamed: Vec<&str> = events.iter().filter(|(n, _)| n == "text").map(|(_, d)| d["text"].as_str().unwrap()).collect();
    assert_eq!(streamed.join(" "), done["answer"]["text"].as_str().unwrap());
    assert_eq!(events[0].1["citations"], done["citations"]);
    // The streamed answer was stored under the ids it reports.
    let (status, stored) = get_json(&server, &format!("/api/v1/conversations/{}", done["conversation_id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["messages"][0]["id"], done["message_id"]);
}

#[tokio::test]
async fn bad_requests_get_problems_that_name_the_problem() {
    let data = TempDir::new().unwrap();
    let server = Server::start(data.path(), &["--rate-limit", "0", "--admin-token", TOKEN]);
    let (status, body) = post_json(&server, "/api/v1/ask", &json!({ "question": "   " })).await;
    assert_problem(status, &body, 422, "empty");
    let (status, body) = post_json(&server, "/api/v1/ask", &json!({ "question": "why ".repeat(501) })).await;
    assert_problem(status, &body, 422, "2000");
    let (status, body) = post_json(&server, "/api/v1/ask", &json!({ "question": "why?", "top_k": 0 })).await;
    assert_problem(status, &body, 422, "top_k");
    let (status, body) = post_json(&server, "/api/v1/ask", &json!({ "question": "why?", "conversation_id": "missing-one" })).await;
    assert_problem(status, &body, 404, "missing-one");
    // An empty conversation id names none: a new conversation starts, as from the page.
    let (status, body) = post_json(&server, "/api/v1/ask", &json!({ "question": "why?", "conversation_id": "" })).await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    assert!(!body["conversation_id"].as_str().unwrap().is_empty());
    // JSON Schema's integers include 3.0; a fraction is not one.
    let (status, body) = post_json(&server, "/api/v1/ask", &json!({ "question": "why?", "top_k": 3.0 })).await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    let (status, body) = post_json(&server, "/api/v1/ask", &json!({ "question": "why?", "top_k": 2.5 })).await;
    assert_problem(status, &body, 422, "whole number");
    let (status, body) = post_json(&server, "/api/v1/ask", &json!({ "text": "why?" })).await;
    assert_problem(status, &body, 422, "question");

    let raw = |body: &'static str, content_type: &'static str| {
        client().post(server.url("/api/v1/ask")).header("content-type", content_type).body(body).send()
    };
    let response = raw("{\"question\": ", "application/json").await.unwrap();
    let status = response.status();
    assert_problem(status, &response.json().await.unwrap(), 400, "EOF");
    let response = raw("question=why", "application/x-www-form-urlencoded").await.unwrap();
    let status = response.status();
    assert_problem(status, &response.json().await.unwrap(), 415, "application/json");
    let big = format!("{{\"question\": \"{}\"}}", "a".repeat(1024 * 1024 + 10));
    let response = client().post(server.url("/api/v1/ask")).header("content-type", "application/json").body(big).send().await.unwrap();
    let status = response.status();
    assert_problem(status, &response.json().await.unwrap(), 413, "limit");

    let (status, body) = get_json(&server, "/api/v1/documents/no-such-doc.txt").await;
    assert_problem(status, &body, 404, "no-such-doc.txt");
    let (status, body) = get_json(&server, "/api/v1/conversations/nope").await;
    assert_problem(status, &body, 404, "nope");
    let (status, body) = get_json(&server, "/api/v1/search?k=3").await;
    assert_problem(status, &body, 400, "q");

    // Writes: no token → 401, a wrong one → 403.
    let document = json!({ "title": "Note", "text": "A note." });
    let response = client().post(server.url("/api/v1/documents")).json(&document).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let status = response.status();
    assert_problem(status, &response.json().await.unwrap(), 401, "FOOTNOTE_ADMIN_TOKEN");
    let response =
        client().delete(server.url("/api/v1/documents/001_12cff05f749eef20.txt")).bearer_auth("wrong").send().await.unwrap();
    let status = response.status();
    assert_problem(status, &response.json().await.unwrap(), 403, "token");
    // Nothing was lost.
    let (_, documents) = get_json(&server, "/api/v1/documents").await;
    assert_eq!(documents["documents"].as_array().unwrap().len(), 5);

    // Every response carries a request id.
    let response = client().get(server.url("/healthz")).send().await.unwrap();
    assert!(!response.headers()["x-request-id"].is_empty());
}

#[tokio::test]
async fn without_an_admin_token_writes_are_refused_and_clients_are_rate_limited() {
    let data = TempDir::new().unwrap();
    let server = Server::start(data.path(), &["--rate-limit", "1"]);
    let (status, body) = post_json(&server, "/api/v1/documents", &json!({ "title": "t", "text": "x" })).await;
    assert_problem(status, &body, 403, "FOOTNOTE_ADMIN_TOKEN");
    // One request per second with bursts of three: the fourth at once is refused.
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..6 {
        let response = client().get(server.url("/api/v1/search?q=election&k=1")).send().await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        }
        statuses.push(response.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(retry_after.is_some_and(|s| s >= 1), "{retry_after:?}");
    // Health checks are never limited.
    for _ in 0..5 {
        assert_eq!(client().get(server.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn documents_are_added_shown_asked_about_and_deleted() {
    let data = TempDir::new().unwrap();
    let server = Server::start(data.path(), &["--rate-limit", "0", "--admin-token", TOKEN]);
    let document = json!({
        "title": "Aral Sea <script>alert(1)</script> notes",
        "text": "The Aral Sea shrank after the rivers feeding it were diverted for cotton irrigation in the 1960s.\n\nThe Kok-Aral dam, finished in 2005, raised the level of the northern Small Aral Sea by several metres.\n\nSomeone pasted <script>alert('x')</script> into the margin of the report.",
        "source": "https://example.org/aral",
        "id": "aral-notes"
    });
    let response = client().post(server.url("/api/v1/documents")).bearer_auth(TOKEN).json(&document).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["documents"], json!(["aral-notes"]));
    assert_eq!(report["added"], 1);

    let (status, shown) = get_json(&server, "/api/v1/documents/aral-notes").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["source"], "https://example.org/aral");
    assert!(!shown["passages"].as_array().unwrap().is_empty());

    let (_, answer) = post_json(&server, "/api/v1/ask", &json!({ "question": "What raised the level of the Small Aral Sea?" })).await;
    assert_eq!(answer["citations"][0]["doc_id"], "aral-notes", "{answer:#}");
    assert!(answer["answer"]["text"].as_str().unwrap().contains("Kok-Aral"));

    // The page shows document text as text.
    let page = client()
        .post(server.url("/"))
        .form(&[("question", "What raised the level of the Small Aral Sea?")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    let location = page.headers()["location"].to_str().unwrap().to_string();
    let html = client().get(server.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"), "document text is not escaped");
    assert!(!html.contains("<script>alert"), "document text reached the page as markup");

    // A file upload, with its search hit.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::text("# Steppe eagles\n\nThe steppe eagle nests on the ground across the Kazakh steppe.\n")
            .file_name("eagles.md"),
    );
    let response = client().post(server.url("/api/v1/documents")).bearer_auth(TOKEN).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{:?}", response.text().await);
    let (_, hits) = get_json(&server, "/api/v1/search?q=where%20do%20steppe%20eagles%20nest&k=2").await;
    assert_eq!(hits["results"][0]["doc_id"], "eagles.md", "{hits:#}");
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(vec![0u8; 10]).file_name("tool.exe"));
    let response = client().post(server.url("/api/v1/documents")).bearer_auth(TOKEN).multipart(form).send().await.unwrap();
    let status = response.status();
    assert_problem(status, &response.json().await.unwrap(), 415, ".pdf");
    // A PDF, read as `footnote ingest` reads it: its citations name their page.
    let report = std::fs::read(common::repo().join("tests/documents/long-report.pdf")).unwrap();
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(report).file_name("long-report.pdf"));
    let response = client().post(server.url("/api/v1/documents")).bearer_auth(TOKEN).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{:?}", response.text().await);
    let (_, hits) = get_json(&server, "/api/v1/search?q=when%20was%20the%20Kestrel%20Point%20lighthouse%20first%20lit&k=1").await;
    assert_eq!(hits["results"][0]["doc_id"], "long-report.pdf", "{hits:#}");
    let page_number = hits["results"][0]["page"].as_u64().expect("a PDF passage has a page");
    assert!(page_number > 10, "{hits:#}");
    let asked = client().post(server.url("/")).form(&[("question", "When was the Kestrel Point lighthouse first lit?")]).send().await.unwrap();
    let location = asked.headers()["location"].to_str().unwrap().to_string();
    let html = client().get(server.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("<span class=\"where\">p. {page_number}</span>")), "the page does not show the page number");
    // A damaged one is refused with the reason, and nothing is stored.
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(b"%PDF-1.7\n%garbage".to_vec()).file_name("broken.pdf"));
    let response = client().post(server.url("/api/v1/documents")).bearer_auth(TOKEN).multipart(form).send().await.unwrap();
    let status = response.status();
    assert_problem(status, &response.json().await.unwrap(), 422, "broken.pdf");
    let (status, _) = get_json(&server, "/api/v1/documents/broken.pdf").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A title without letters or digits still gives an id its routes reach,
    // and a second such title does not replace the first.
    let mut ids = Vec::new();
    for title in ["!!!", "???"] {
        let untitled = json!({ "title": title, "text": format!("A note filed under {title} about the Caspian Sea shoreline.") });
        let response = client().post(server.url("/api/v1/documents")).bearer_auth(TOKEN).json(&untitled).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["added"], 1, "{report}");
        let id = report["documents"][0].as_str().unwrap().to_string();
        let (status, shown) = get_json(&server, &format!("/api/v1/documents/{id}")).await;
        assert_eq!((status, shown["title"].as_str()), (StatusCode::OK, Some(title)), "{id}");
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);

    // The scheme of the Authorization header is case-insensitive; the token must match exactly.
    let delete_with = |authorization: String| {
        client().delete(server.url("/api/v1/documents/aral-notes")).header("authorization", authorization).send()
    };
    let response = delete_with(format!("Bearer {TOKEN}x")).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = delete_with(format!("bearer {TOKEN}")).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = get_json(&server, "/api/v1/documents/aral-notes").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = client().delete(server.url("/api/v1/documents/aral-notes")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Metrics count what happened.
    let metrics = client().get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for name in ["http_requests_total", "http_request_duration_seconds", "footnote_answer_duration_seconds", "footnote_passages_indexed", "footnote_answers_total"] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    assert!(metrics.contains("route=\"/api/v1/ask\""), "{metrics}");
}

#[tokio::test]
async fn asks_keep_being_answered_while_a_document_is_ingested() {
    let data = TempDir::new().unwrap();
    // The serving sessions (two by default) embed the document's passages
    // between the questions.
    let server = Server::start(data.path(), &["--rate-limit", "0", "--admin-token", TOKEN]);
    let paragraphs: Vec<String> = (0..400)
        .map(|i| format!("Report {i} on the regional budget of district {i}: spending on schools rose by {i} percent while roads took the rest of the money."))
        .collect();
    let document = json!({ "title": "District budgets", "text": paragraphs.join("\n\n") });
    let ingest = {
        let url = server.url("/api/v1/documents");
        tokio::spawn(async move { client().post(url).bearer_auth(TOKEN).json(&document).send().await.unwrap().status() })
    };
    let mut asks = Vec::new();
    for _ in 0..12 {
        let url = server.url("/api/v1/ask");
        asks.push(tokio::spawn(async move {
            let response = client().post(url).json(&json!({ "question": "why did Tokayev call early elections?" })).send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body["answer"]["abstained"].clone())
        }));
    }
    for ask in asks {
        let (status, abstained) = ask.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(abstained, false);
    }
    assert_eq!(ingest.await.unwrap(), StatusCode::CREATED);
    let (_, documents) = get_json(&server, "/api/v1/documents").await;
    assert_eq!(documents["documents"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn conversations_survive_a_restart_and_health_reports_ready() {
    let data = TempDir::new().unwrap();
    let server = Server::start(data.path(), &["--rate-limit", "0"]);
    let (status, ready) = get_json(&server, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{ready:#}");
    assert_eq!(ready["documents"], 5);
    let (_, first) = post_json(&server, "/api/v1/ask", &json!({ "question": "Who succeeded Nazarbayev?" })).await;
    let conversation = first["conversation_id"].as_str().unwrap().to_string();
    server.stop();

    let server = Server::start(data.path(), &["--rate-limit", "0"]);
    let (status, stored) = get_json(&server, &format!("/api/v1/conversations/{conversation}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["messages"][0]["answer"], first["answer"]);
    // Restarting did not ingest the seeds again.
    let (_, documents) = get_json(&server, "/api/v1/documents").await;
    assert_eq!(documents["documents"].as_array().unwrap().len(), 5);
}

/// Every route the OpenAPI document lists exists with its method, and answers
/// with a status the document lists for it.
#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let data = TempDir::new().unwrap();
    let server = Server::start(data.path(), &["--rate-limit", "0", "--admin-token", TOKEN]);
    let (status, doc) = get_json(&server, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 10, "{paths:?}");
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().unwrap() {
            let concrete = path.replace("{id}", "001_12cff05f749eef20.txt");
            let url = server.url(&concrete);
            let request = match method.as_str() {
                "get" => client().get(url),
                "post" => client().post(url).json(&json!({})),
                "patch" => client().patch(url).json(&json!({})),
                "delete" => client().delete(url),
                other => panic!("unexpected method {other}"),
            };
            let status = request.send().await.unwrap().status();
            let documented: Vec<&String> = operation["responses"].as_object().unwrap().keys().collect();
            assert!(documented.contains(&&status.as_u16().to_string()), "{method} {path} answered {status}, documented {documented:?}");
        }
    }
}

/// Two instances on different ports sharing one PostgreSQL and one index on a
/// Qdrant server (the gRPC stand-in, with the Qdrant engine behind it): a
/// conversation begun on one continues on the other, feedback given on either
/// shows on both, a document added through one is answered from by the other,
/// and `/readyz` follows the Qdrant server's health.
#[tokio::test]
async fn two_instances_sharing_postgres_and_a_qdrant_server_serve_the_same_conversations() {
    let Some(database) = common::postgres_database().await else { return };
    let qdrant = qdrant_standin::start();
    let collection = format!("footnote_api_{}", std::process::id());
    let env = [
        ("FOOTNOTE_QDRANT_URL", qdrant.url.as_str()),
        ("FOOTNOTE_QDRANT_API_KEY", qdrant_standin::API_KEY),
        ("FOOTNOTE_QDRANT_COLLECTION", collection.as_str()),
    ];
    let (data_a, data_b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let args = ["--rate-limit", "0", "--admin-token", TOKEN, "--database-url", &database];
    let a = Server::start_with_env(data_a.path(), &args, &env);
    let b = Server::start_with_env(data_b.path(), &args, &env);
    assert_ne!(a.base, b.base);
    let (_, documents) = get_json(&b, "/api/v1/documents").await;
    assert_eq!(documents["documents"].as_array().unwrap().len(), 5, "B sees the seeds A wrote: {documents:#}");
    for data in [&data_a, &data_b] {
        assert!(!data.path().join("qdrant").exists(), "no embedded index beside a Qdrant server");
    }

    let document = json!({
        "title": "Aral Sea notes",
        "text": "The Kok-Aral dam, finished in 2005, raised the level of the northern Small Aral Sea by several metres.",
        "id": "aral-notes"
    });
    let response = client().post(a.url("/api/v1/documents")).bearer_auth(TOKEN).json(&document).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let (_, answer) = post_json(&b, "/api/v1/ask", &json!({ "question": "What raised the level of the Small Aral Sea?" })).await;
    assert_eq!(answer["citations"][0]["doc_id"], "aral-notes", "B answers from what A added: {answer:#}");

    let (status, ready) = get_json(&b, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{ready:#}");
    qdrant.set_down(true);
    let (status, ready) = get_json(&b, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready:#}");
    assert!(ready["detail"].as_str().unwrap_or_default().contains("index"), "{ready:#}");
    qdrant.set_down(false);
    let (status, _) = get_json(&a, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "ready again once Qdrant is back");
    a.stop();
    b.stop();
}

/// One request written byte for byte (what reqwest would not send: a path
/// that is not UTF-8, a chunked body), and the response's status line,
/// headers (lower-cased) and body.
fn raw_request(server: &common::Server, request: &[u8]) -> (u16, String, String) {
    use std::io::{Read, Write};
    let address = server.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    // The server may answer (413) and close before the whole body is sent:
    // write beside the read, and keep what was read when the write fails.
    let mut writer = stream.try_clone().unwrap();
    let request = request.to_vec();
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(&request);
    });
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    drop(stream);
    sending.join().unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_lowercase(), body.to_string())
}

/// A chunked body: the whole of `body` in chunks of 64 KiB.
fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(64 * 1024) {
        out.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend(chunk);
        out.extend(b"\r\n");
    }
    out.extend(b"0\r\n\r\n");
    out
}

/// The sharp edges a hostile afternoon found (issue 19), each answered as a
/// problem, or as the page where the page was asked, and nothing stored.
#[tokio::test]
async fn hostile_requests_get_problems_and_store_nothing() {
    let data = TempDir::new().unwrap();
    let server = Server::start(data.path(), &["--rate-limit", "0", "--admin-token", TOKEN]);
    let problem = |status: u16, head: &str, body: &str, expected: u16, detail_has: &str| {
        assert!(head.contains("content-type: application/problem+json"), "{head}\n{body}");
        assert_problem(StatusCode::from_u16(status).unwrap(), &serde_json::from_str(body).unwrap(), expected, detail_has);
    };

    // A chunked JSON body of 3 MB has no Content-Length; the 1 MiB limit holds anyway.
    let big = serde_json::to_vec(&json!({ "title": "Big", "text": "word ".repeat(600_000), "id": "big" })).unwrap();
    let mut request = format!(
        "POST /api/v1/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    request.extend(chunked(&big));
    let (status, head, body) = raw_request(&server, &request);
    problem(status, &head, &body, 413, "1048576");
    let (status, _) = get_json(&server, "/api/v1/documents/big").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the over-limit document was stored");

    // A path segment that is not UTF-8.
    let (status, head, body) = raw_request(&server, b"GET /api/v1/documents/%FF%FE HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    problem(status, &head, &body, 400, "UTF-8");
    // A query value that is not UTF-8 is refused, not replaced.
    let (status, body) = get_json(&server, "/api/v1/search?q=%FF%FEelection").await;
    assert_problem(status, &body, 400, "`q`");
    // A method the route does not have: 405 with `Allow`, as a problem.
    let response = client().put(server.url("/api/v1/ask")).send().await.unwrap();
    let allow = response.headers().get("allow").map(|v| v.to_str().unwrap().to_string());
    let status = response.status();
    assert_problem(status, &response.json().await.unwrap(), 405, "POST");
    assert_eq!(allow.as_deref(), Some("POST"));
    // A URL and a header section over their limits.
    let (status, body) = get_json(&server, &format!("/api/v1/search?q={}", "a".repeat(20_000))).await;
    assert_problem(status, &body, 414, "16384");
    let response = client().get(server.url("/api/v1/documents")).header("x-padding", "a".repeat(70_000)).send().await.unwrap();
    let status = response.status();
    assert_problem(status, &response.json().await.unwrap(), 431, "65536");

    // A token padded inside the header is not the token. (RFC 9110 allows
    // several spaces after the scheme, and HTTP itself strips whitespace
    // around a header value, so those are not padding.)
    for padded in [format!("Bearer \t{TOKEN}"), format!("Bearer {TOKEN}\t.")] {
        let response = client().delete(server.url("/api/v1/documents/no-such")).header("authorization", padded).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }

    // Binary content named .txt is refused, with the reason; nothing is stored.
    let mut binary = b"\x7fELF\x02\x01\x01\x00\x00\x00".to_vec();
    binary.extend(b"GLIBC_2.2.5 strings that look like text".repeat(20));
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(binary).file_name("tool.txt"));
    let response = client().post(server.url("/api/v1/documents")).bearer_auth(TOKEN).multipart(form).send().await.unwrap();
    let status = response.status();
    assert_problem(status, &response.json().await.unwrap(), 422, "binary content");
    let (status, _) = get_json(&server, "/api/v1/documents/tool.txt").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Control characters in a document's title and text, and a NUL in a question.
    let noisy = json!({ "title": "Salt\u{0} lakes\u{1b}[0m", "text": "Lake Balkhash is half fresh\u{0} and half salty water.", "id": "salt" });
    let response = client().post(server.url("/api/v1/documents")).bearer_auth(TOKEN).json(&noisy).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let (_, shown) = get_json(&server, "/api/v1/documents/salt").await;
    assert_eq!(shown["title"], "Salt lakes [0m", "{shown:#}");
    assert!(!shown["passages"][0]["text"].as_str().unwrap().contains('\0'));
    let (status, answer) = post_json(&server, "/api/v1/ask", &json!({ "question": "Which lake is half\u{0} fresh and half salty?" })).await;
    assert_eq!(status, StatusCode::OK, "{answer:#}");
    assert_eq!(answer["question"], "Which lake is half fresh and half salty?");

    // One document's JSON names `passages` once: the passages.
    let raw = client().get(server.url("/api/v1/documents/salt")).send().await.unwrap().text().await.unwrap();
    assert_eq!(raw.matches("\"passages\":").count(), 1, "{raw}");

    // The page's form, posted for a conversation that does not exist, answers with the page.
    let response = client().post(server.url("/")).form(&[("question", "why?"), ("conversation_id", "gone")]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("does not exist"));
}

/// The `name=value` part of a response's `Set-Cookie` for `name`.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

/// A browser's cookie, from its first page view.
async fn new_browser(server: &Server) -> String {
    let response = client().get(server.url("/")).send().await.unwrap();
    let line = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(line.contains(attribute), "{line}");
    }
    set_cookie(&response, "footnote_browser").expect("a first visit gets a browser cookie")
}

/// The token the page's forms carry for the browser with `cookie`.
async fn form_token(server: &Server, cookie: &str) -> String {
    let html = client().get(server.url("/login")).header("cookie", cookie).send().await.unwrap().text().await.unwrap();
    let at = html.find("name=\"csrf\" value=\"").expect("the login form carries a token") + 19;
    html[at..at + 64].to_string()
}

async fn list_conversations(server: &Server, cookie: Option<&str>) -> Vec<(String, String)> {
    let mut request = client().get(server.url("/api/v1/conversations"));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let listed: Value = request.send().await.unwrap().json().await.unwrap();
    listed["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c["title"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn each_browser_keeps_its_own_conversations_and_a_logged_in_admin_changes_documents() {
    let data = TempDir::new().unwrap();
    let server = Server::start(data.path(), &["--rate-limit", "0", "--admin-token", TOKEN]);
    let alice = new_browser(&server).await;
    let bob = new_browser(&server).await;
    assert_ne!(alice, bob);

    // A conversation limited to one document keeps the limit for its follow-ups.
    let (_, documents) = get_json(&server, "/api/v1/documents").await;
    let chosen = documents["documents"][1]["id"].as_str().unwrap().to_string();
    let ask = |body: Value, cookie: &str| client().post(server.url("/api/v1/ask")).header("cookie", cookie.to_string()).json(&body).send();
    let first: Value = ask(json!({ "question": "What did Tokayev say?", "documents": [chosen] }), &alice).await.unwrap().json().await.unwrap();
    let scoped = first["conversation_id"].as_str().unwrap().to_string();
    let follow_up: Value = ask(json!({ "question": "And what happened next?", "conversation_id": scoped }), &alice).await.unwrap().json().await.unwrap();
    for answer in [&first, &follow_up] {
        for citation in answer["citations"].as_array().unwrap() {
            assert_eq!(citation["doc_id"], chosen.as_str(), "{answer:#}");
        }
    }
    let (_, stored) = get_json(&server, &format!("/api/v1/conversations/{scoped}")).await;
    assert_eq!(stored["documents"], json!([chosen]));
    assert_eq!(stored["title"], "What did Tokayev say?");
    let unknown = ask(json!({ "question": "Why?", "documents": ["no-such-document"] }), &alice).await.unwrap();
    let status = unknown.status();
    assert_problem(status, &unknown.json().await.unwrap(), 404, "no-such-document");

    // The page's form (no JavaScript) starts a conversation for the browser too.
    let posted = client()
        .post(server.url("/"))
        .header("cookie", &alice)
        .form(&[("question", "Who succeeded Nazarbayev as president?"), ("conversation_id", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    let listed = list_conversations(&server, Some(&alice)).await;
    let titles: Vec<&str> = listed.iter().map(|(_, title)| title.as_str()).collect();
    assert_eq!(titles, ["Who succeeded Nazarbayev as president?", "What did Tokayev say?"], "the latest first");
    assert!(list_conversations(&server, Some(&bob)).await.is_empty(), "another browser sees none of them");
    assert!(list_conversations(&server, None).await.is_empty(), "without a browser cookie there is nothing to list");
    let (id, value) = alice.split_once('=').unwrap();
    let forged = format!("{id}={}.{}", value.split_once('.').unwrap().0, "0".repeat(64));
    assert!(list_conversations(&server, Some(&forged)).await.is_empty(), "a cookie the server did not sign names no browser");
    let page = client().get(server.url("/")).header("cookie", &alice).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("What did Tokayev say?") && page.contains("conversation-list"), "the side list shows them");

    // Only the browser that started a conversation may rename or delete it.
    let url = server.url(&format!("/api/v1/conversations/{scoped}"));
    let refused = client().patch(&url).header("cookie", &bob).json(&json!({ "title": "Mine now" })).send().await.unwrap();
    let status = refused.status();
    assert_problem(status, &refused.json().await.unwrap(), 403, "another browser");
    let refused = client().delete(&url).send().await.unwrap();
    let status = refused.status();
    assert_problem(status, &refused.json().await.unwrap(), 403, "another browser");
    let cross_site = client().delete(&url).header("cookie", &alice).header("origin", "https://evil.example").send().await.unwrap();
    let status = cross_site.status();
    assert_problem(status, &cross_site.json().await.unwrap(), 403, "evil.example");
    // Behind a proxy that rewrites `Host`, the host the browser used comes as X-Forwarded-Host.
    let renamed = client()
        .patch(&url)
        .header("cookie", &alice)
        .header("origin", "https://footnote.example")
        .header("x-forwarded-host", "footnote.example")
        .json(&json!({ "title": "  Tokayev\nquotes " }))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    let renamed: Value = renamed.json().await.unwrap();
    assert_eq!((renamed["title"].as_str(), renamed["messages"].as_i64()), (Some("Tokayev quotes"), Some(2)));
    let too_long = client().patch(&url).header("cookie", &alice).json(&json!({ "title": "x".repeat(201) })).send().await.unwrap();
    assert_eq!(too_long.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let deleted = client().delete(&url).header("cookie", &alice).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(get_json(&server, &format!("/api/v1/conversations/{scoped}")).await.0, StatusCode::NOT_FOUND);
    let feedback = post_json(&server, "/api/v1/feedback", &json!({ "message_id": first["message_id"], "rating": "up" })).await;
    assert_eq!(feedback.0, StatusCode::NOT_FOUND, "its messages went with it");
    assert_eq!(list_conversations(&server, Some(&alice)).await.len(), 1);
    // A conversation started by the API without a browser: only the admin token changes it.
    let (_, orphan) = post_json(&server, "/api/v1/ask", &json!({ "question": "Why early elections?" })).await;
    let url = server.url(&format!("/api/v1/conversations/{}", orphan["conversation_id"].as_str().unwrap()));
    assert_eq!(client().delete(&url).header("cookie", &alice).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(client().delete(&url).bearer_auth("wrong").send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(client().delete(&url).bearer_auth(TOKEN).send().await.unwrap().status(), StatusCode::NO_CONTENT);

    // The library is read-only until the admin token is exchanged for a login.
    let library = client().get(server.url("/documents")).header("cookie", &alice).send().await.unwrap().text().await.unwrap();
    assert!(library.contains("Log in</a> with the admin token") && !library.contains("id=\"upload\""));
    let token = form_token(&server, &alice).await;
    let login = |fields: Vec<(&'static str, String)>| client().post(server.url("/login")).header("cookie", alice.clone()).form(&fields).send();
    let wrong = login(vec![("token", "guess".into()), ("csrf", token.clone())]).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(wrong.text().await.unwrap().contains("That is not the admin token."));
    let forged = login(vec![("token", TOKEN.into()), ("csrf", "0".repeat(64))]).await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "a form without this browser's token is refused");
    assert!(set_cookie(&forged, "footnote_session").is_none());
    let bob_token = form_token(&server, &bob).await;
    let borrowed = login(vec![("token", TOKEN.into()), ("csrf", bob_token)]).await.unwrap();
    assert_eq!(borrowed.status(), StatusCode::FORBIDDEN, "another browser's form token does not pass");
    let logged_in = login(vec![("token", TOKEN.into()), ("csrf", token.clone())]).await.unwrap();
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&logged_in, "footnote_session").expect("a login cookie");
    let both = format!("{alice}; {session}");
    let library = client().get(server.url("/documents")).header("cookie", &both).send().await.unwrap().text().await.unwrap();
    assert!(library.contains("id=\"upload\"") && library.contains("Log out"));

    // Uploads without JavaScript: each file gets its outcome, a bad one its reason.
    let upload = |cookie: String, accept: &'static str, files: Vec<(&'static str, Vec<u8>)>| {
        let mut form = reqwest::multipart::Form::new().text("csrf", token.clone());
        for (name, bytes) in files {
            form = form.part("file", reqwest::multipart::Part::bytes(bytes).file_name(name));
        }
        client().post(server.url("/documents")).header("cookie", cookie).header("accept", accept).multipart(form).send()
    };
    let files = vec![
        ("salt-lakes.md", b"# Salt lakes\n\nThe Balkhash lake is fresh in its western half and salty in its eastern half.\n".to_vec()),
        ("broken.pdf", b"%PDF-1.4 this is not a whole PDF".to_vec()),
        ("tool.exe", b"MZ".to_vec()),
    ];
    let shown = upload(both.clone(), "text/html", files).await.unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    let html = shown.text().await.unwrap();
    assert!(html.contains("<strong>salt-lakes.md</strong>: added, 1 passage<"), "{html}");
    assert!(html.contains("<strong>broken.pdf</strong>: not added:"), "{html}");
    assert!(html.contains("<strong>tool.exe</strong>: not added:") && html.contains("only"), "{html}");
    assert_eq!(get_json(&server, "/api/v1/documents/salt-lakes.md").await.0, StatusCode::OK);
    assert_eq!(get_json(&server, "/api/v1/documents/broken.pdf").await.0, StatusCode::NOT_FOUND);
    let refused = upload(alice.clone(), "text/html", vec![("x.md", b"# X\n\nText.".to_vec())]).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "no login, no upload");

    // With JavaScript each file streams its stages.
    let streamed = upload(both.clone(), "application/x-ndjson", vec![("steppe.md", b"# Steppe\n\nThe saiga antelope lives on the steppe.\n".to_vec())])
        .await
        .unwrap();
    assert_eq!(streamed.headers()["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = streamed.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let stages: Vec<&str> = lines.iter().map(|l| l["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["reading", "cleaning", "embedding", "storing", "done"]);
    assert_eq!(lines[4]["outcome"]["kind"], "stored");

    // The library lists, filters and shows documents; a document is deleted from it.
    let filtered = client().get(server.url("/documents?q=SALT")).header("cookie", &both).send().await.unwrap().text().await.unwrap();
    assert!(filtered.contains("salt-lakes.md") && !filtered.contains("steppe.md"));
    assert!(filtered.contains("Markdown") && filtered.contains(" UTC"), "type and time added are shown");
    let page = client().get(server.url("/documents/salt-lakes.md")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("fresh in its western half") && page.contains("Ask about this document"));
    let delete = |cookie: String, csrf: String| {
        client().post(server.url("/documents/delete")).header("cookie", cookie).form(&[("id", "salt-lakes.md".to_string()), ("csrf", csrf)]).send()
    };
    assert_eq!(delete(alice.clone(), token.clone()).await.unwrap().status(), StatusCode::FORBIDDEN, "no login, no delete");
    assert_eq!(delete(both.clone(), token.clone()).await.unwrap().status(), StatusCode::SEE_OTHER);
    assert_eq!(get_json(&server, "/api/v1/documents/salt-lakes.md").await.0, StatusCode::NOT_FOUND);

    // Logging out ends the session.
    let out = client().post(server.url("/logout")).header("cookie", &both).form(&[("csrf", token.clone())]).send().await.unwrap();
    assert_eq!(set_cookie(&out, "footnote_session").as_deref(), Some("footnote_session="));
    server.stop();
}
