//! The client against the scripted chat-completions server over real HTTP.

use std::time::Duration;

use footnote_llm::{Client, Error, Message, Role, Settings};
use footnote_llm_standin::{Reply, Script, ScriptedLlm};

fn client(base_url: &str, timeout: Duration) -> Client {
    Client::new(Settings { base_url: base_url.into(), model: "scripted".into(), api_key: Some("sk-test".into()), timeout, max_tokens: 64 }).unwrap()
}

fn ask(client: &Client) -> (Result<footnote_llm::Completion, Error>, Vec<String>) {
    let mut pieces = Vec::new();
    let result = client.stream(&[Message::new(Role::System, "be brief"), Message::new(Role::User, "question")], &mut |p| pieces.push(p.to_string()));
    (result, pieces)
}

#[test]
fn a_streamed_completion_arrives_piece_by_piece() {
    let server = ScriptedLlm::start(Script::always(Reply::text("Tokayev took office on 20 March 2019. [1]")));
    let (result, pieces) = ask(&client(&server.base_url(), Duration::from_secs(10)));
    let completion = result.unwrap();
    assert_eq!(completion.text, "Tokayev took office on 20 March 2019. [1]");
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
    assert!(pieces.len() > 3, "{pieces:?}");
    assert_eq!(pieces.concat(), completion.text);
    let request = &server.requests()[0];
    assert_eq!(request["stream"], true);
    assert_eq!(request["model"], "scripted");
    assert_eq!(request["messages"][0]["role"], "system");
    assert_eq!(request["messages"][1]["content"], "question");
    assert_eq!(server.authorizations(), [Some("Bearer sk-test".to_string())]);
}

#[test]
fn failures_are_told_apart() {
    let server = ScriptedLlm::start(
        Script::always(Reply::text("fine"))
            .when("question", Reply::Status { status: 500, message: "model crashed".into() }),
    );
    let (result, _) = ask(&client(&server.base_url(), Duration::from_secs(10)));
    match result {
        Err(e @ Error::Status { status: 500, .. }) => assert!(e.to_string().contains("model crashed"), "{e}"),
        other => panic!("{other:?}"),
    }

    let slow = ScriptedLlm::start(Script::always(Reply::Slow { millis: 3_000, then: Box::new(Reply::text("late")) }));
    let (result, _) = ask(&client(&slow.base_url(), Duration::from_millis(500)));
    assert!(matches!(result, Err(Error::Timeout(_))), "{result:?}");

    let cut = ScriptedLlm::start(Script::always(Reply::Cut { pieces: vec!["Tokayev took ".into(), "office on".into()] }));
    let (result, pieces) = ask(&client(&cut.base_url(), Duration::from_secs(10)));
    assert!(matches!(result, Err(Error::Cut(_))), "{result:?}");
    assert_eq!(pieces.concat(), "Tokayev took office on");

    let garbled = ScriptedLlm::start(Script::always(Reply::Garbled { data: "{\"choices\": [{\"delta\": 7}]".into() }));
    let (result, _) = ask(&client(&garbled.base_url(), Duration::from_secs(10)));
    assert!(matches!(result, Err(Error::Malformed(_))), "{result:?}");

    // A port nobody listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (result, _) = ask(&client(&format!("http://{free}/v1"), Duration::from_secs(5)));
    assert!(matches!(result, Err(Error::Unreachable { .. })), "{result:?}");
    assert!(client(&server.base_url(), Duration::from_secs(2)).check().is_ok());
    assert!(client(&format!("http://{free}/v1"), Duration::from_secs(2)).check().is_err());
}

#[test]
fn settings_that_cannot_work_are_refused_with_what_to_set() {
    for (url, model, expected) in [
        ("localhost:11434/v1", "m", "http://"),
        ("http://", "m", "no host"),
        ("http://127.0.0.1:8080/v1/chat/completions", "m", "API base"),
        ("http://127.0.0.1:8080/v1", " ", "FOOTNOTE_LLM_MODEL"),
    ] {
        let settings = Settings { base_url: url.into(), model: model.into(), api_key: None, timeout: Duration::from_secs(1), max_tokens: 8 };
        let error = Client::new(settings).err().unwrap_or_else(|| panic!("{url} was accepted"));
        assert!(error.to_string().contains(expected), "{url}: {error}");
    }
}
