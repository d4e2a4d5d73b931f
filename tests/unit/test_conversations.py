"""The chat app's conversations kept on the server (service/conversations.py): per browser, atomic, restorable,
exportable, and no key reaches another browser's conversations or another folder."""

from __future__ import annotations

import json

import pytest

from rag.config import ChatConfig
from service.conversations import Conversations, as_markdown, new_key


@pytest.fixture
def store(tmp_path):
    return Conversations(ChatConfig(conversations=str(tmp_path / "c"), feedback=str(tmp_path / "f.jsonl")))


def conversation(key, *questions):
    messages = []
    for question in questions:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": f"About {question} [1]."}]
    messages[-1]["sources"] = [{"number": 1, "where": "manual.md, page 2"}]
    return {"id": key, "messages": messages}


def test_saved_conversations_are_listed_latest_first_titled_by_their_first_question(store):
    me = new_key()
    first, second = new_key(), new_key()
    store.save(me, conversation(first, "How long does the battery last?"))
    store.save(me, conversation(second, "What does the warranty cover? " * 5))
    listed = store.list(me)
    assert [item["id"] for item in listed] == [second, first]
    assert listed[0]["title"].endswith("…") and len(listed[0]["title"]) == 60
    assert listed[1] == {**listed[1], "title": "How long does the battery last?", "messages": 2}
    store.rename(me, first, "  Battery   life ")
    assert store.load(me, first)["title"] == "Battery life"
    assert store.delete(me, first) and store.load(me, first) is None and not store.delete(me, first)


def test_another_browser_sees_nothing_and_no_key_leaves_the_folder(store, tmp_path):
    me, someone = new_key(), new_key()
    mine = new_key()
    store.save(me, conversation(mine, "secret plans"))
    assert store.list(someone) == [] and store.load(someone, mine) is None
    for bad in ["../c", "..", "a/b", "", "x" * 100, "short"]:
        with pytest.raises(ValueError):
            store.list(bad)
        assert store.load(me, bad) is None
        assert not store.delete(me, bad)
    with pytest.raises(ValueError):
        store.save(me, {"id": "../../escape", "messages": []})
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [me]


def test_a_damaged_file_is_skipped_and_export_is_markdown(store):
    me, key = new_key(), new_key()
    store.save(me, conversation(key, "How long does the battery last?"))
    (store.folder / me / f"{new_key()}.json").write_text("{not json")
    assert [item["id"] for item in store.list(me)] == [key]
    text = as_markdown(store.load(me, key))
    assert text.startswith("# How long does the battery last?\n\n## How long does the battery last?\n\n")
    assert "About How long does the battery last? [1]." in text and "- [1] manual.md, page 2" in text


def test_feedback_is_one_json_line_per_rating(store):
    store.add_feedback({"question": "q?", "answer": "a [1].", "rating": 1, "comment": "", "contexts": ["p"]})
    store.add_feedback({"question": "q?", "answer": "a [1].", "rating": 0, "comment": "wrong year"})
    lines = [json.loads(line) for line in store.feedback_path.read_text().splitlines()]
    assert [(line["rating"], line["comment"]) for line in lines] == [(1, ""), (0, "wrong year")]
    assert all(line["time"] > 0 for line in lines)


def test_the_evaluation_reads_thumbs_up_answers_as_reviewed_questions(store):
    from eval.datasets import load_qa

    source = {"number": 1, "where": "library/uploads/manual.md · Manual > Battery"}
    store.add_feedback(
        {
            "question": "How long to charge?",
            "answer": "About 4.5 hours [1].",
            "rating": 1,
            "comment": "",
            "sources": [source],
            "contexts": ["A full charge takes about 4.5 hours."],
        }
    )
    store.add_feedback({"question": "Walk assist?", "answer": "Yes [2].", "rating": 0, "comment": "made up"})
    [sample] = load_qa(store.feedback_path)
    assert (sample.question, sample.reference) == ("How long to charge?", "About 4.5 hours.")
    assert sample.context_ids == ["library/uploads/manual.md"]
    assert sample.contexts == ["A full charge takes about 4.5 hours."]
    assert sample.metadata["source"] == "chat feedback" and sample.id.startswith("feedback-")
