"""The orchestrator's control flow with a scripted LLM (fast); the real-model tests are in integration/."""

import re

import pytest

from ingest.run import ingest
from rag.answer import prompts
from rag.answer.pipeline import RagPipeline
from rag.llms.base import Completion

from ..conftest import EXAMPLES


class ScriptedLLM:
    """Returns queued texts (or what a queued function makes of the messages); records every call. A stand-in for
    speed only."""

    name = "scripted"

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def _next(self, messages) -> str:
        answer = self.answers.pop(0)
        return answer(messages) if callable(answer) else answer

    def complete(self, messages, **kw):
        self.calls.append(("complete", messages))
        return Completion(self._next(messages), prompt_tokens=10, completion_tokens=5)

    def stream(self, messages, **kw):
        self.calls.append(("stream", messages))
        yield from re.findall(r"\S+\s*", self._next(messages))  # word by word, like a model streams

    def complete_json(self, messages, schema, **kw):
        self.calls.append(("complete_json", messages))
        return self._next(messages)


def number_of(messages, holding: str) -> int:
    """The number of the prompt's first passage that holds `holding`."""
    *_, prompt = [m["content"] for m in messages if "passages:" in m["content"][:30].lower()]
    passages = re.split(r"\n\n(?=\[\d+\] \()", prompt.split("\n", 1)[1])
    return int(next(p[1 : p.index("]")] for p in passages if holding in p))


def citing(text: str, holding: str):
    """An answer `text` with "{n}" filled by the number of the prompt's first passage that holds `holding`."""
    return lambda messages: text.format(n=number_of(messages, holding))


@pytest.fixture(scope="module")
def store_settings(tmp_path_factory, embedder):
    from rag.config import Settings

    settings = Settings(store={"path": str(tmp_path_factory.mktemp("flow") / "chroma"), "collection": "flow"})
    ingest([EXAMPLES], settings, embedder=embedder)
    return settings


def pipeline(settings, embedder, llm):
    return RagPipeline(settings, embedder=embedder, llm=llm)


def test_nothing_relevant_means_no_llm_call(store_settings, embedder):
    llm = ScriptedLLM()
    answer = pipeline(store_settings, embedder, llm).ask("What is the capital of France?")
    assert not answer.found and answer.text == prompts.NO_ANSWER
    assert llm.calls == [] and answer.contexts == []


def test_cited_answer_is_checked_and_sources_listed(store_settings, embedder):
    llm = ScriptedLLM("On a full charge the battery lasts between 60 and 110 km [1]. It flies [9].")
    answer = pipeline(store_settings, embedder, llm).ask("How far does the Aurora go on a full charge?")
    assert answer.found and answer.grounded
    assert answer.contexts[0].metadata["source"] == "docs/aurora-e-bike-manual.md"
    assert [c.number for c in answer.citations] == [1]
    assert answer.citations[0].source == "docs/aurora-e-bike-manual.md" and answer.citations[0].supported
    assert answer.invalid_citations == [9]
    [kind, messages] = llm.calls[0]
    assert kind == "stream" and "[1] (docs/aurora-e-bike-manual.md" in messages[-1]["content"]
    assert set(answer.timings) >= {"condense", "retrieve", "context", "first_token", "generate", "citations"}


def test_an_answer_without_valid_citations_is_flagged(store_settings, embedder):
    llm = ScriptedLLM("The battery lasts a long time.")
    answer = pipeline(store_settings, embedder, llm).ask("How far does the Aurora go on a full charge?")
    assert answer.found and not answer.grounded
    assert answer.text.endswith(prompts.UNCITED_NOTE)


def test_an_uncited_answer_is_withheld_where_configured_and_a_cited_one_is_not(store_settings, embedder):
    strict = store_settings.model_copy(
        update={"answer": store_settings.answer.model_copy(update={"uncited": "withhold"})}
    )
    llm = ScriptedLLM(
        "The battery lasts a long time [7].",  # [7]: no such passage
        "Wheels are painted purple on Tuesdays [1].",  # cited, though unsupported: shown with its note
    )
    rag = pipeline(strict, embedder, llm)
    answer = rag.ask("How far does the Aurora go on a full charge?")
    assert not answer.found and answer.text == prompts.NO_ANSWER and answer.citations == []
    assert answer.guarded == ["withheld: the answer cites none of the passages (answer.uncited)"]
    answer = rag.ask("How far does the Aurora go on a full charge?")
    assert answer.found and not answer.grounded and answer.text.endswith(prompts.UNSUPPORTED_NOTE)


def test_the_model_saying_not_found_is_respected(store_settings, embedder):
    llm = ScriptedLLM(prompts.NO_ANSWER)
    answer = pipeline(store_settings, embedder, llm).ask("What colour is the Aurora's saddle?")
    assert not answer.found and answer.citations == []


def test_a_follow_up_is_condensed_with_history(store_settings, embedder):
    llm = ScriptedLLM("When was the Aurora e-bike launched?", "The Aurora was launched in March 2023 [1][2][3].")
    history = [
        {"role": "user", "content": "Tell me about the Aurora e-bike warranty."},
        {"role": "assistant", "content": "The frame has a 5-year warranty [1]."},
    ]
    answer = pipeline(store_settings, embedder, llm).ask("and when was it launched?", history)
    assert answer.standalone_question == "When was the Aurora e-bike launched?"
    assert llm.calls[0][0] == "complete" and "Tell me about the Aurora" in llm.calls[0][1][-1]["content"]
    assert answer.contexts[0].metadata["source"] == "docs/aurora-e-bike-manual.md"
    supported = [c.number for c in answer.citations if c.supported]
    assert supported and all("March 2023" in answer.contexts[n - 1].text for n in supported)
    assert answer.grounded


def test_context_is_deduplicated_and_fits_the_budget(store_settings, embedder):
    from rag.config import Settings

    settings = Settings(**{**store_settings.model_dump(by_alias=True), "answer": {"k": 8, "context_tokens": 300}})
    flow = pipeline(settings, embedder, ScriptedLLM())
    hits = flow.retriever.retrieve("battery charging and warranty", settings.answer.k)
    doubled = hits + hits
    kept = flow._fit(doubled)  # expand is 0: the hits as retrieved
    assert len({h.id for h in kept}) == len(kept)
    assert sum(embedder.count_tokens(h.text) + 16 for h in kept) <= 300 or len(kept) == 1


def test_a_long_history_is_summarised_and_recent_turns_kept(store_settings, embedder):
    from rag.config import Settings

    settings = Settings(
        **{**store_settings.model_dump(by_alias=True), "answer": {"history_turns": 2, "history_tokens": 60}}
    )
    llm = ScriptedLLM(
        "The user asked about the Aurora warranty and its battery.",
        "When was the Aurora launched?",
        "The Aurora was launched in March 2023 [1][2][3].",
    )
    history = []
    for number in range(4):
        history += [
            {"role": "user", "content": f"Question {number} about the Aurora warranty and the battery?"},
            {"role": "assistant", "content": f"Answer {number}: the frame has a 5-year warranty [1]."},
        ]
    answer = pipeline(settings, embedder, llm).ask("and when was it launched?", history)
    summary_call, condense_call, answer_call = llm.calls
    assert condense_call[0] == "complete" and "Summary of the earlier" in condense_call[1][-1]["content"]
    assert "Question 0 about" in summary_call[1][-1]["content"]  # the oldest turns went to the summary
    assert "Question 3 about" not in summary_call[1][-1]["content"]  # the recent ones stay verbatim
    assert "Summary of the earlier conversation: The user asked" in answer_call[1][0]["content"]
    assert "summarise" in answer.timings
    short = pipeline(settings, embedder, ScriptedLLM()).memory(history[:2])
    assert short == history[:2]  # under the budget: kept whole, no LLM call


@pytest.mark.parametrize("strategy", ["dense", "bm25", "hybrid"])
def test_the_configured_retriever_feeds_the_answer_and_relevance_is_a_cosine(store_settings, embedder, strategy):
    from rag.retrievers import BM25Retriever, DenseRetriever, HybridRetriever

    settings = store_settings.model_copy(
        update={"retriever": store_settings.retriever.model_copy(update={"strategy": strategy})}
    )
    llm = ScriptedLLM("On a full charge the battery lasts between 60 and 110 km [1].")
    flow = pipeline(settings, embedder, llm)
    expected = {"dense": DenseRetriever, "bm25": BM25Retriever, "hybrid": HybridRetriever}[strategy]
    assert type(flow.retriever) is expected
    question = "How far does the Aurora go on a full charge?"
    answer = flow.ask(question)
    assert answer.found and answer.contexts[0].metadata["source"] == "docs/aurora-e-bike-manual.md"
    best = max(float(embedder.embed_documents([h.text])[0] @ embedder.embed_query(question)) for h in answer.contexts)
    assert answer.relevance == pytest.approx(best, abs=1e-4)  # comparable across strategies: not a fused score
    off_topic = pipeline(settings, embedder, ScriptedLLM()).ask("What is the capital of France?")
    assert not off_topic.found and off_topic.relevance < settings.answer.min_score


def test_a_rewrite_that_drops_the_follow_up_is_repaired():
    from rag.answer.condense import condense, keeps_the_question

    assert keeps_the_question("And how do I claim it?", "How do I claim the Aurora warranty?")
    assert not keeps_the_question("And how do I claim it?", "What warranty does the Aurora e-bike have?")
    assert keeps_the_question("and when was it launched?", "When was the Aurora e-bike launched?")
    assert keeps_the_question("why?", "Why does the battery drain?")  # nothing to keep: any rewrite will do

    class Repeats:  # what a small model did: repeated the first question instead of rewriting the last one
        name = "scripted"

        def complete(self, messages, **options):
            from rag.llms.base import Completion

            return Completion(text="What warranty does the Aurora e-bike have?", prompt_tokens=50, completion_tokens=9)

    history = [
        {"role": "user", "content": "What warranty does the Aurora e-bike have?"},
        {"role": "assistant", "content": "A 5-year warranty on the frame [1]."},
    ]
    condensed = condense(Repeats(), "And how do I claim it?", history)
    assert condensed.repaired and condensed.tokens == 59
    assert condensed.question == "What warranty does the Aurora e-bike have? And how do I claim it?"


def test_small_to_big_shows_each_hit_with_its_neighbours(store_settings, embedder):
    from rag.config import Settings

    question = "What does error E07 mean?"
    plain = pipeline(store_settings, embedder, ScriptedLLM("x [1].")).ask(question)
    wide = Settings(**{**store_settings.model_dump(by_alias=True), "answer": {"expand": 1, "context_tokens": 3000}})
    widened = pipeline(wide, embedder, ScriptedLLM("x [1].")).ask(question)
    first, bigger = plain.contexts[0], widened.contexts[0]
    assert bigger.id == first.id and bigger.metadata["expanded"] >= 2
    assert first.text.strip() in bigger.text and len(bigger.text) > len(first.text)
    neighbours = [h for h in widened.contexts[1:] if h.metadata["source"] == first.metadata["source"]]
    assert all(h.text not in bigger.text for h in neighbours)  # a chunk inside a shown window is not shown twice


def test_read_small_keeps_the_lines_about_the_question_and_the_table_header():
    from rag.answer.context import focus
    from rag.documents import Hit

    text = "\n".join(
        [
            "Capital expenditures",
            "Capital expenditures include the costs of acquiring property and equipment.",
            " | 2019 | 2018",
            *[f"Segment {n} | {n},{n}00 | {n},{n}50" for n in range(1, 30)],
            "Cable | 1,153 | 1,429",
            "The decrease in Cable came from lower purchases of customer premise equipment.",
        ]
    )
    hit = Hit(id="c", text=text, metadata={"source": "r.pdf"}, score=1.0)
    words = lambda t: len(t.split())  # noqa: E731
    cut = focus(hit, "What were the Cable capital expenditures in 2019?", words, 40)
    lines = cut.text.splitlines()
    assert lines[0] == "Capital expenditures" and " | 2019 | 2018" in lines
    assert "Cable | 1,153 | 1,429" in lines and "…" in lines and cut.metadata["focused"]
    assert words(cut.text.replace("…", "")) <= 40 and not any(line.startswith("Segment 7 ") for line in lines)
    assert focus(hit, "anything", words, 10_000) is hit  # a passage that fits is left alone


def test_an_answer_restating_the_question_is_asked_again_once(store_settings, embedder):
    llm = ScriptedLLM(
        "The Aurora's battery lasts on a full charge [1].",
        "On a full charge the battery lasts between 60 and 110 km [1].",
    )
    answer = pipeline(store_settings, embedder, llm).ask("How long does the Aurora's battery last on a full charge?")
    assert answer.found and answer.grounded and answer.restated == 1
    assert answer.text == "On a full charge the battery lasts between 60 and 110 km [1]."
    [_, (kind, retry)] = llm.calls
    assert kind == "stream" and retry[-1]["content"] == prompts.RESTATED_RETRY
    assert retry[-2] == {"role": "assistant", "content": "The Aurora's battery lasts on a full charge [1]."}
    assert answer.to_dict()["restated"] == 1 and "retry" in answer.timings


def test_a_yes_about_what_no_passage_names_twice_is_not_found(store_settings, embedder):
    """ "Does the Aurora have a walk-assist mode?" (the manual has none) got "Yes, … [2]" cited to the riding-modes
    table: asked again, the same; the reply is then "not found", never the unsupported yes."""
    said = "Yes, the Aurora has a walk-assist mode among its riding modes on the left handlebar remote [{n}]."
    llm = ScriptedLLM(citing(said, "| Mode"), citing(said, "| Mode"))
    answer = pipeline(store_settings, embedder, llm).ask("Does the Aurora have a walk-assist mode?")
    assert not answer.found and answer.text == prompts.NO_ANSWER and answer.citations == []
    assert answer.restated == 2 and any("restated" in note for note in answer.guarded)


def test_a_yes_stated_by_the_passage_stands(store_settings, embedder):
    llm = ScriptedLLM(
        citing("Yes, the Aurora has a remote with + and − buttons on the left handlebar [{n}].", "remote")
    )
    answer = pipeline(store_settings, embedder, llm).ask("Does the Aurora have a handlebar remote?")
    assert answer.found and answer.restated == 0 and len(llm.calls) == 1


def test_another_products_name_on_this_passages_figure_is_flagged(store_settings, embedder):
    llm = ScriptedLLM("The Zephyr takes about 4.5 hours to charge with the supplied 4 A charger [1].")
    answer = pipeline(store_settings, embedder, llm).ask("How long does the Zephyr take to charge?")
    assert answer.found and not answer.grounded and answer.text.endswith(prompts.UNSUPPORTED_NOTE)
    assert answer.unsupported[0].missing == ["Zephyr"]


def test_a_ratio_is_computed_from_cited_inputs_not_by_the_model(store_settings, embedder):
    """The model picks the inputs and the formula (JSON); the calculator divides; the answer shows both, cited."""

    def plan(messages):
        n = number_of(messages, "540 Wh")
        return {
            "inputs": [
                {"letter": "a", "name": "Battery capacity", "value": "540 Wh", "passage": n},
                {"letter": "b", "name": "Full charge time", "value": "4.5 hours", "passage": n},
            ],
            "formula": "a / b",
            "unit": "Wh per hour",
        }

    llm = ScriptedLLM(plan)
    answer = pipeline(store_settings, embedder, llm).ask(
        "What is the ratio of the Aurora's battery capacity to its charging time?"
    )
    assert [kind for kind, _ in llm.calls] == ["complete_json"]  # no free generation
    assert answer.calculation["result"] == 120.0 and answer.calculation["formula"] == "a / b"
    assert "Calculated: 540 Wh / 4.5 hours = 120.00 Wh per hour" in answer.text
    assert answer.found and answer.grounded and all(c.supported for c in answer.checks)


def test_an_input_its_passage_does_not_hold_means_no_calculation(store_settings, embedder):
    def plan(messages):
        n = number_of(messages, "540 Wh")
        return {
            "inputs": [{"letter": "a", "name": "Capacity", "value": "560 Wh", "passage": n}],
            "formula": "a / 2",
            "unit": "",
        }

    llm = ScriptedLLM(plan, citing("The battery holds 540 Wh and a full charge takes about 4.5 hours [{n}].", "540 Wh"))
    answer = pipeline(store_settings, embedder, llm).ask(
        "What is the ratio of the Aurora's battery capacity to its charging time?"
    )
    assert answer.calculation is None and [kind for kind, _ in llm.calls] == ["complete_json", "stream"]
    assert answer.found and answer.grounded
