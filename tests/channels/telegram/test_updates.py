"""Reading Telegram updates: the fields Hotline uses, strictly; everything else ignored."""

from __future__ import annotations

import json

import pytest

from hotline.channels.telegram.updates import (
    BadUpdate,
    Ignored,
    IncomingMessage,
    command_of,
    parse_update,
)
from tests.channels.telegram.conftest import CHAT_ID, message


def parse(update: object) -> IncomingMessage | Ignored:
    return parse_update(json.dumps(update).encode())


def test_a_private_text_message() -> None:
    got = parse(message(10, "Хочу сдаться", language_code="ru"))
    assert isinstance(got, IncomingMessage)
    assert (got.update_id, got.chat_id, got.text, got.language_code) == (
        10, CHAT_ID, "Хочу сдаться", "ru")
    assert not got.edited and got.command is None and got.files == ()


def test_an_edit_is_marked_and_is_never_a_command() -> None:
    got = parse(message(11, "/stop", key="edited_message", edit_date=1767225999))
    assert isinstance(got, IncomingMessage)
    assert got.edited and got.edit_date == 1767225999 and got.command is None


def test_photo_caption_and_largest_size_by_file_id() -> None:
    photo = [{"file_id": "small", "file_unique_id": "u1", "width": 90, "height": 90},
             {"file_id": "large", "file_unique_id": "u2", "width": 1280, "height": 960,
              "file_size": 120000}]
    got = parse(message(12, None, caption="Это наш блиндаж", photo=photo))
    assert got.text == "Это наш блиндаж"
    assert [(f.kind, f.file_id, f.content_type, f.size) for f in got.files] == [
        ("photo", "large", "image/jpeg", 120000)]


@pytest.mark.parametrize(("kind", "item", "content_type"), [
    ("document", {"file_id": "D1", "mime_type": "application/pdf",
                  "file_name": "passport_ivanov.pdf"}, "application/pdf"),
    ("voice", {"file_id": "V1", "duration": 4, "mime_type": "audio/ogg"}, "audio/ogg"),
    ("video", {"file_id": "W1", "duration": 4}, "video/mp4"),
    ("video_note", {"file_id": "N1", "length": 240, "duration": 4}, "video/mp4"),
    ("document", {"file_id": "D2", "mime_type": "text/html; <script>"},
     "application/octet-stream"),
])
def test_attachments_keep_only_file_id_and_type(kind, item, content_type) -> None:
    got = parse(message(13, None, **{kind: item}))
    assert [(f.kind, f.file_id, f.content_type) for f in got.files] == [
        (kind, item["file_id"], content_type)]
    assert "passport" not in repr(got)  # file names are never read


def test_location_and_contact_are_written_out_for_staff() -> None:
    got = parse(message(14, None, location={"latitude": 47.1, "longitude": 37.5}))
    assert got.text == "Location: 47.100000, 37.500000"
    got = parse(message(15, None, contact={"phone_number": "+79160000000",
                                           "first_name": "Мама"}))
    assert got.text == "Contact: Мама, +79160000000"


def test_a_poll_is_recorded_as_something_not_shown() -> None:
    got = parse(message(16, None, poll={"id": "1", "question": "?"}))
    assert isinstance(got, IncomingMessage) and got.unshown == "poll" and got.text == ""


@pytest.mark.parametrize(("update", "reason"), [
    (message(20, "hi", chat_type="group"), "not_private"),
    (message(21, "hi", chat_type="supergroup", chat_id=-1001234), "not_private"),
    (message(22, "hi", chat_type="channel", chat_id=-1005678), "not_private"),
    (message(23, "hi", is_bot=True), "bot"),
    ({"update_id": 24, "callback_query": {"id": "x"}}, "update_type"),
    ({"update_id": 25, "channel_post": {"message_id": 1}}, "update_type"),
    (message(26, None, pinned_message={"message_id": 3}), "service_message"),
])
def test_what_is_ignored(update, reason) -> None:
    got = parse(update)
    assert isinstance(got, Ignored) and got.reason == reason


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{not json", "the body is not UTF-8 JSON"),
    (b"\xff\xfe", "the body is not UTF-8 JSON"),
    (b'{"update_id": NaN}', "the body is not UTF-8 JSON"),
    (b"[1, 2]", "the body is not a JSON object"),
    (b'"text"', "the body is not a JSON object"),
    (b"{}", "missing or malformed update_id"),
    (b'{"update_id": "7"}', "missing or malformed update_id"),
    (b'{"update_id": true}', "missing or malformed update_id"),
    (b'{"update_id": -1}', "missing or malformed update_id"),
    (b'{"update_id": 1, "message": []}', "malformed message"),
    (b'{"update_id": 1, "message": {"chat": {"id": 1, "type": "private"}}}',
     "missing or malformed message.message_id"),
    (b'{"update_id": 1, "message": {"message_id": 1}}', "missing or malformed message.chat"),
    (b'{"update_id": 1, "message": {"message_id": 1, "chat": {"type": "private"}}}',
     "missing or malformed chat.id"),
    (b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": -5, "type": "private"}}}',
     "malformed chat.id"),
    (b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 5, "type": "private"},'
     b' "text": 12}}', "malformed message.text"),
    (b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 5, "type": "private"},'
     b' "text": "\\ud800"}}', "malformed message.text"),
    (b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 5, "type": "private"},'
     b' "photo": "x"}}', "malformed message.photo"),
    (b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 5, "type": "private"},'
     b' "location": {"latitude": 500, "longitude": 1}}}', "malformed location"),
    (b"[" * 100000 + b"]" * 100000, "the body is not UTF-8 JSON"),
])
def test_malformed_bodies_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BadUpdate) as refused:
        parse_update(raw)
    assert str(refused.value) == reason


@pytest.mark.parametrize(("text", "command"), [
    ("/start", "start"), ("/start ru_campaign", "start"), ("/START", "start"),
    ("/start@HotlineBot payload", "start"), ("/stop", "stop"), ("/stop@HotlineBot", "stop"),
    ("/help", None), ("start", None), ("/", None), ("stop please", None),
])
def test_commands(text: str, command: str | None) -> None:
    assert command_of(text) == command
