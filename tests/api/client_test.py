"""The API as a user of the OpenAPI document meets it: a Python client that
openapi-python-client generated from `/api/v1/openapi.json` (scripts/api-contract.sh
generates it into target/api/client) asks, searches, lists and reads documents,
adds one with the admin token and posts feedback, against a running
`footnote serve` with the demo documents. Every call goes through the
generated code and its typed models, so a spec that disagrees with the server
fails here.

Environment: FOOTNOTE_URL (the server), FOOTNOTE_TOKEN (its admin token).
"""

import os
import sys

from footnote_client import AuthenticatedClient, Client
from footnote_client.api.answers import ask, search
from footnote_client.api.conversations import (
    delete_conversation,
    list_conversations,
    post_feedback,
    rename_conversation,
    show_conversation,
)
from footnote_client.api.documents import add_documents, list_documents, show_document
from footnote_client.models import AskBody, AskReply, FeedbackBody, NewDocument, Rating, RenameBody, SearchReply

BASE = os.environ["FOOTNOTE_URL"]
TOKEN = os.environ["FOOTNOTE_TOKEN"]


def check(condition, message):
    if not condition:
        sys.exit(f"client test: {message}")


def main():
    client = Client(base_url=BASE, raise_on_unexpected_status=True)

    reply = ask.sync(client=client, body=AskBody(question="Why did Tokayev call early elections?"))
    check(isinstance(reply, AskReply), f"ask did not parse as AskReply: {reply!r}")
    check(not reply.answer.abstained and "[1]" in reply.answer.text, f"no footnoted answer: {reply.answer.text!r}")
    check(len(reply.citations) >= 1 and reply.citations[0].doc_id, "no citation")
    for start, end in reply.citations[0].highlights:
        check(0 <= start < end <= len(reply.citations[0].text), f"highlight {start}..{end} outside the passage")

    follow_up = ask.sync(client=client, body=AskBody(question="and in 2019?", conversation_id=reply.conversation_id))
    check(follow_up.conversation_id == reply.conversation_id, "the follow-up left the conversation")
    conversation = show_conversation.sync(client=client, id=reply.conversation_id)
    check(len(conversation.messages) == 2, f"{len(conversation.messages)} messages stored")

    hits = search.sync(client=client, q="Caspian pipeline", k=3)
    check(isinstance(hits, SearchReply) and len(hits.results) == 3, f"search: {hits!r}")
    missing = search.sync_detailed(client=Client(base_url=BASE), q=" ")
    check(missing.status_code == 422, f"a blank query answered {missing.status_code}")

    documents = list_documents.sync(client=client).documents
    check(len(documents) >= 5, f"{len(documents)} documents listed")
    first = show_document.sync(client=client, id=documents[0].id)
    check(first.id == documents[0].id and len(first.passages) == documents[0].passages, "document and its passage count disagree")

    admin = AuthenticatedClient(base_url=BASE, token=TOKEN, raise_on_unexpected_status=True)
    added = add_documents.sync(
        client=admin,
        body=NewDocument(title="Client notes", text="The generated client added this note about steppe eagles.", id="client-notes"),
    )
    check(added.documents == ["client-notes"], f"create: {added!r}")
    refused = add_documents.sync_detailed(client=client, body=NewDocument(title="t", text="x"))
    check(refused.status_code in (401, 403), f"a write without the token answered {refused.status_code}")

    vote = post_feedback.sync(client=client, body=FeedbackBody(message_id=reply.message_id, rating=Rating.UP, comment="clear"))
    check(vote.rating == Rating.UP and vote.message_id == reply.message_id, f"feedback: {vote!r}")

    # Without a browser cookie there is no list; a conversation the API began
    # is renamed and deleted with the admin token, and not without it.
    listed = list_conversations.sync(client=client)
    check(listed.conversations == [], f"a client without a browser cookie listed {listed.conversations!r}")
    refused = delete_conversation.sync_detailed(client=client, id=reply.conversation_id)
    check(refused.status_code == 403, f"a delete without the token answered {refused.status_code}")
    renamed = rename_conversation.sync(client=admin, id=reply.conversation_id, body=RenameBody(title="Early elections"))
    check(renamed.title == "Early elections" and renamed.messages == 2, f"rename: {renamed!r}")
    deleted = delete_conversation.sync_detailed(client=admin, id=reply.conversation_id)
    check(deleted.status_code == 204, f"delete answered {deleted.status_code}")
    gone = show_conversation.sync_detailed(client=client, id=reply.conversation_id)
    check(gone.status_code == 404, f"a deleted conversation answered {gone.status_code}")
    print("client test: ask, follow-up, conversation, search, documents, create, feedback, rename and delete through the generated client")


if __name__ == "__main__":
    main()
