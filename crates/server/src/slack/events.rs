//! What Slack sends: Events API callbacks, slash commands and block actions,
//! as the Events API and Socket Mode both deliver them, and the questions the
//! adapter takes from them.

use serde::Deserialize;
use serde_json::Value;

use super::blocks;

/// The body of a request to `/slack/events` (or an `events_api` envelope's payload).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventsApiBody {
    UrlVerification { challenge: String },
    EventCallback(EventCallback),
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
pub struct EventCallback {
    pub event_id: String,
    /// The installations the event is for; the bot's own user id is here.
    #[serde(default)]
    pub authorizations: Vec<Authorization>,
    pub event: Value,
}

#[derive(Debug, Deserialize)]
pub struct Authorization {
    pub user_id: Option<String>,
}

/// The fields of `app_mention` and `message` events the adapter reads.
#[derive(Debug, Deserialize)]
struct MessageEvent {
    #[serde(rename = "type")]
    kind: String,
    subtype: Option<String>,
    channel_type: Option<String>,
    user: Option<String>,
    bot_id: Option<String>,
    edited: Option<Value>,
    text: Option<String>,
    channel: Option<String>,
    ts: Option<String>,
    thread_ts: Option<String>,
}

/// A question asked of the bot in a channel or a direct message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub channel: String,
    /// The asking message.
    pub ts: String,
    /// The thread the answer goes to: the asking message's thread, or a new
    /// one under the asking message.
    pub thread_ts: String,
    pub user: String,
    /// The text with the bot's mention taken out; may be empty.
    pub text: String,
}

impl EventCallback {
    /// The question in this event, or `None` for events the bot ignores:
    /// other event types, messages from bots (itself included), edits, joins
    /// and every other message subtype.
    pub fn question(&self) -> Option<Question> {
        let event: MessageEvent = serde_json::from_value(self.event.clone()).ok()?;
        let direct = event.kind == "message" && event.channel_type.as_deref() == Some("im");
        if !(event.kind == "app_mention" || direct) {
            return None;
        }
        if event.subtype.is_some() || event.bot_id.is_some() || event.edited.is_some() {
            return None;
        }
        let bot_user = self.authorizations.iter().find_map(|a| a.user_id.as_deref());
        let user = event.user?;
        if Some(user.as_str()) == bot_user {
            return None;
        }
        let ts = event.ts?;
        Some(Question {
            channel: event.channel?,
            thread_ts: event.thread_ts.unwrap_or_else(|| ts.clone()),
            ts,
            user,
            text: strip_mention(&event.text.unwrap_or_default(), bot_user),
        })
    }
}

/// Takes the bot's mentions (`<@U123>`, or `<@U123|name>`) out of a message
/// and undoes Slack's escaping. Without the bot's id, a leading mention is
/// taken to be the bot's.
fn strip_mention(text: &str, bot_user: Option<&str>) -> String {
    let mut rest = text.trim_start();
    let mut out = String::new();
    let mut first = true;
    while let Some(start) = rest.find("<@") {
        let Some(len) = rest[start..].find('>') else { break };
        let id = rest[start + 2..start + len].split('|').next().unwrap_or_default();
        out.push_str(&rest[..start]);
        let is_bot = match bot_user {
            Some(bot) => id == bot,
            None => first && start == 0,
        };
        if !is_bot {
            out.push_str(&rest[start..=start + len]);
        }
        rest = &rest[start + len + 1..];
        first = false;
    }
    out.push_str(rest);
    let text = blocks::unescape(&out);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A slash command, as posted to `/slack/commands` (form fields) or carried
/// by a `slash_commands` envelope (JSON).
#[derive(Debug, Deserialize)]
pub struct SlashCommand {
    pub command: String,
    #[serde(default)]
    pub text: String,
    pub response_url: String,
    pub user_id: String,
    pub channel_id: String,
}

/// The `payload` of `/slack/interactions` (or of an `interactive` envelope).
#[derive(Debug, Deserialize)]
pub struct Interaction {
    #[serde(rename = "type")]
    pub kind: String,
    pub user: InteractionUser,
    #[serde(default)]
    pub actions: Vec<Action>,
    pub response_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct InteractionUser {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct Action {
    pub action_id: String,
    pub value: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn callback(event: Value) -> EventCallback {
        serde_json::from_value(json!({
            "event_id": "Ev1",
            "authorizations": [{ "user_id": "UBOT", "is_bot": true }],
            "event": event,
        }))
        .unwrap()
    }

    #[test]
    fn a_mention_becomes_a_question_without_the_mention() {
        let question = callback(json!({
            "type": "app_mention", "user": "U1", "channel": "C1", "ts": "1.1",
            "text": "<@UBOT> why did Tokayev call early elections? cc <@U2> &amp; &lt;team&gt;",
        }))
        .question()
        .unwrap();
        assert_eq!(question.text, "why did Tokayev call early elections? cc <@U2> & <team>");
        assert_eq!((question.thread_ts.as_str(), question.user.as_str()), ("1.1", "U1"));

        let in_thread =
            callback(json!({ "type": "app_mention", "user": "U1", "channel": "C1", "ts": "2.2", "thread_ts": "1.1", "text": "<@UBOT> and in 2019?" }))
                .question()
                .unwrap();
        assert_eq!((in_thread.ts.as_str(), in_thread.thread_ts.as_str(), in_thread.text.as_str()), ("2.2", "1.1", "and in 2019?"));
    }

    #[test]
    fn direct_messages_are_questions_and_the_rest_is_ignored() {
        let dm = json!({ "type": "message", "channel_type": "im", "user": "U1", "channel": "D1", "ts": "1.1", "text": "who won?" });
        assert_eq!(callback(dm.clone()).question().unwrap().text, "who won?");
        let ignored = [
            json!({ "type": "message", "channel_type": "channel", "user": "U1", "channel": "C1", "ts": "1.1", "text": "chatter" }),
            json!({ "type": "message", "channel_type": "im", "user": "UBOT", "channel": "D1", "ts": "1.1", "text": "my own answer" }),
            json!({ "type": "message", "channel_type": "im", "bot_id": "B9", "user": "U9", "channel": "D1", "ts": "1.1", "text": "another bot" }),
            json!({ "type": "message", "subtype": "message_changed", "channel_type": "im", "channel": "D1", "ts": "1.1" }),
            json!({ "type": "message", "subtype": "channel_join", "user": "U1", "channel": "C1", "ts": "1.1", "text": "joined" }),
            json!({ "type": "app_mention", "user": "U1", "channel": "C1", "ts": "1.1", "text": "<@UBOT> hi", "edited": { "user": "U1", "ts": "1.2" } }),
            json!({ "type": "reaction_added", "user": "U1", "reaction": "thumbsup" }),
        ];
        for event in ignored {
            assert_eq!(callback(event.clone()).question(), None, "{event}");
        }
    }

    #[test]
    fn without_the_bots_id_a_leading_mention_is_taken_for_the_bot() {
        assert_eq!(strip_mention("<@UX|footnote> what changed? thanks <@U2>", None), "what changed? thanks <@U2>");
        assert_eq!(strip_mention("<@UBOT>", Some("UBOT")), "");
    }
}
