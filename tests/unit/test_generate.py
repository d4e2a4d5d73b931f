"""The test-set generator's plan and filters (eval/generate.py), with a scripted model for speed; the real local
model writes a set in tests/integration/test_generate.py."""

from __future__ import annotations

import json
import math
from collections import Counter

from eval.datasets import load_qa
from eval.generate import generate, plan
from eval.question_filters import copied, duplicate, matches, refused
from rag.stores.base import StoredChunk
from tests.unit.test_pipeline_flow import ScriptedLLM

BATTERY = (
    "The Aurora uses a 540 Wh lithium-ion battery mounted in the down tube. A full charge takes about 4.5 hours "
    "with the supplied 4 A charger. On a full charge the battery lasts between 60 and 110 km, depending on the "
    "assist level, rider weight and terrain, and it keeps 80 percent of its capacity after 800 charge cycles."
)
WARRANTY = (
    "Northwind Cycles gives a two-year warranty on the frame and a one-year warranty on the battery and the motor. "
    "The warranty covers defects in materials and workmanship; it does not cover wear parts such as tyres, brake "
    "pads and chains, nor damage from accidents or from riding in competitions and races of any kind at all."
)


def chunk(index, text, source="manual.md"):
    return StoredChunk(id=f"{source}-{index}", text=text, metadata={"source": source, "chunk_index": index})


def test_a_copied_sentence_is_rejected_and_a_paraphrase_kept():
    assert copied("Does a full charge take about 4.5 hours with the supplied 4 A charger?", [BATTERY])
    assert copied(
        "Full charge takes 4.5 hours supplied 4 A charger?",
        ["A full charge takes 4.5 hours with the supplied 4 A charger."],
    )
    assert not copied("How long must the Aurora be plugged in to refill its battery completely?", [BATTERY])


def test_duplicates_are_dropped_by_their_content_words():
    kept = ["How long does the Aurora battery take to charge?"]
    assert duplicate("How long does it take to charge the Aurora battery?", kept)
    assert not duplicate("What does the Aurora warranty cover?", kept)


def test_answers_match_by_figures_or_words_and_refusals_are_seen():
    assert matches("It takes about 4.5 hours [1].", "4.5 hours")
    assert not matches("It takes about 6 hours.", "4.5 hours")
    assert matches("Tyres, brake pads and chains are not covered.", "wear parts: tyres, brake pads and chains")
    assert refused("I could not find the answer to that in your documents.") and refused("Not stated.")
    assert not refused("About 4.5 hours.")


def test_the_plan_spreads_kinds_and_documents_and_skips_short_chunks():
    chunks = [chunk(i, BATTERY) for i in range(6)] + [chunk(i, WARRANTY, "warranty.md") for i in range(2)]
    chunks.append(chunk(9, "Contents", "toc.md"))
    items = plan(chunks, 40, seed=1)
    kinds = Counter(item.kind for item in items)
    assert kinds == {"fact": 12, "finding": 8, "number": 8, "comparison": 6, "unanswerable": 6}
    sources = Counter(str(item.chunks[0].metadata["source"]) for item in items)
    assert "toc.md" not in sources and sources["manual.md"] > sources["warranty.md"] > 0  # by size
    assert all(len(item.chunks) == 2 for item in items if item.kind == "comparison")
    assert plan(chunks, 40, seed=1)[7].chunks[0].id == items[7].chunks[0].id  # seeded: a rerun resumes


def test_generate_keeps_what_passes_counts_the_rest_and_resumes(tmp_path):
    chunks = [chunk(0, BATTERY), chunk(1, WARRANTY)]

    def writes(messages):
        text = messages[-1]["content"]
        if "does NOT answer" in text:
            return {"question": "What colour options does the Aurora come in?", "answer": "not stated"}
        if "BOTH passages" in text:
            return {"question": "Which lasts longer, the battery warranty or a full charge?", "answer": "the warranty"}
        if "540 Wh" in text:
            return {"question": "How long must the Aurora be plugged in to refill its battery?", "answer": "4.5 hours"}
        return {"question": "Which parts does the warranty leave out?", "answer": "tyres, brake pads and chains"}

    def answers(messages):
        question = messages[-1]["content"].rsplit("Question: ", 1)[1]
        return {
            "What colour options does the Aurora come in?": "I could not find the answer to that in your documents.",
            "How long must the Aurora be plugged in to refill its battery?": "About 4.5 hours.",
            "Which parts does the warranty leave out?": "Wear parts: tyres, brake pads and chains.",
        }.get(question, "The battery lasts 110 km.")  # the comparison is not answered: rejected

    script = []
    for _ in range(8):
        script += [writes, answers]
    out = tmp_path / "sets" / "mine.jsonl"
    summary = generate(chunks, ScriptedLLM(*script), out, n=8, seed=3).as_dict()
    assert summary["planned"] == 8 and summary["kept"] + sum(summary["rejected"].values()) == 8
    assert summary["rejected"].get("duplicate", 0) >= 1  # the same question twice is kept once
    samples = load_qa(out)
    assert len(samples) == summary["kept"] and len({s.question for s in samples}) == len(samples)
    unanswerable = [s for s in samples if s.metadata["kind"] == "unanswerable"]
    assert all(s.reference.startswith("I could not find") and not s.context_ids for s in unanswerable)
    for s in samples:
        assert s.metadata["reviewed"] is None and s.metadata["chunk_ids"]
    journal = [json.loads(line) for line in (tmp_path / "sets" / "mine.jsonl.journal").read_text().splitlines()]
    assert len(journal) == 8
    again = ScriptedLLM()  # nothing left to ask: every planned item is in the journal
    assert generate(chunks, again, out, n=8, seed=3).as_dict() == summary and again.calls == []


def test_a_review_is_recorded_with_who_and_when_and_rejected_questions_are_left_out(tmp_path):
    import pytest

    from eval.review import review

    path = tmp_path / "set.jsonl"
    rows = [
        {"id": f"gen-{n}", "question": f"Question {n}?", "reference": "4.5 hours", "metadata": {"reviewed": None}}
        for n in range(3)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    review(path, "gen-0", "accepted", "ana")
    review(path, "gen-1", "edited", "ben", reference="about 4.5 hours with the 4 A charger")
    review(path, "gen-2", "rejected", "ana")
    samples = load_qa(path)
    assert [s.id for s in samples] == ["gen-0", "gen-1"]  # the rejected one is not evaluated
    assert samples[1].reference == "about 4.5 hours with the 4 A charger"
    verdict = samples[0].metadata["reviewed"]
    assert verdict["state"] == "accepted" and verdict["by"] == "ana" and verdict["at"].endswith("Z")
    with pytest.raises(KeyError):
        review(path, "gen-9", "accepted", "ana")
    with pytest.raises(ValueError):
        review(path, "gen-0", "maybe", "ana")


def test_a_question_that_points_at_its_passage_is_rejected_as_not_standalone():
    from eval.generate import Planned, judge

    item = Planned(0, "fact", [chunk(0, BATTERY)])
    pointing = (
        "What is the primary objective of this study?",
        "According to the text, how long is a charge?",
        "What is the name of the drug being studied?",  # which drug? the one in the passage
    )
    for question in pointing:
        drafted = {"question": question, "answer": "4.5 hours"}
        assert judge(ScriptedLLM([]), item, drafted, []) == (None, "not standalone")


def test_comparisons_pair_chunks_of_one_record_not_neighbouring_records():
    records = [
        StoredChunk(
            id=f"r{r}-{i}",
            text=BATTERY,
            metadata={"source": "corpus.jsonl", "record_id": f"r{r}", "chunk_index": 2 * r + i},
        )
        for r in range(6)
        for i in range(2)
    ]
    pairs = [item.chunks for item in plan(records, 40) if item.kind == "comparison"]
    assert pairs and all(a.metadata["record_id"] == b.metadata["record_id"] for a, b in pairs)


def test_kendall_tau_agreement_with_a_bootstrap_interval():
    from eval.validity import agreement

    queries = [f"q{i}" for i in range(30)]
    human = {
        c: {"ndcg@10": {q: base + 0.01 * (i % 3) for i, q in enumerate(queries)}}
        for c, base in (("a", 0.2), ("b", 0.4), ("c", 0.6), ("d", 0.8))
    }
    same = agreement(human, human, "ndcg@10", rounds=200)
    assert same.tau == 1.0 and same.low == 1.0 and same.configs == 4
    reversed_order = {c: {"ndcg@10": {q: 1 - v for q, v in human[c]["ndcg@10"].items()}} for c in human}
    assert agreement(human, reversed_order, "ndcg@10", rounds=200).tau == -1.0
    # a set every configuration aces (SciFact's generated questions did) ranks nothing: τ undefined, not 0
    aced = {c: {"ndcg@10": dict.fromkeys(queries, 1.0)} for c in human}
    undefined = agreement(human, aced, "ndcg@10", rounds=50)
    assert math.isnan(undefined.tau) and math.isnan(undefined.low) and math.isnan(undefined.high)


def test_paraphrased_spelled_out_and_yes_no_answers_match_and_malformed_references_are_rejected():
    from eval.generate import Planned, judge

    assert matches("Two distinct archaeal groups mediate methane oxidation.", "2")
    assert not matches("Three distinct archaeal groups mediate methane oxidation.", "2")
    assert matches("No randomized trials have tested it.", "No") and not matches("Yes, two trials did.", "No")
    paraphrase = ("AMPK positively influences Nrf2 signalling.", "AMPK exerts a positive influence on Nrf2.")
    assert not matches(*paraphrase)
    assert matches(*paraphrase, similarity=lambda a, b: 0.97) and not matches(*paraphrase, similarity=lambda a, b: 0.7)
    item = Planned(0, "number", [chunk(0, BATTERY)])
    for reference in ("{0.5}%", ".9%", "time:10%", "http://example.com/figure.png (50%)"):
        drafted = {
            "question": "How many charge cycles does the Aurora battery keep 80 percent over?",
            "answer": reference,
        }
        assert judge(ScriptedLLM([]), item, drafted, []) == (None, "malformed answer")


def test_half_the_comparisons_join_two_documents_through_a_rare_entity():
    trial = "The Vantor-7 inhibitor was given to every patient of the cohort for twelve weeks before surgery. "
    plain = "A plain record of routine visits to the clinic by ordinary patients. "
    chunks = [chunk(0, (trial if n < 2 else plain) + WARRANTY, source=f"d{n}.md") for n in range(8)]
    comparisons = [item for item in plan(chunks, 80) if item.kind == "comparison"]
    bridged = [item for item in comparisons if item.bridge]
    assert bridged, comparisons
    for item in bridged:  # "Northwind Cycles" is in every document: not rare, never a bridge
        assert item.bridge == "vantor 7" and {c.metadata["source"] for c in item.chunks} == {"d0.md", "d1.md"}


def test_a_framing_pointer_is_cut_and_a_question_that_names_nothing_is_not_standalone():
    from eval.question_filters import standalone

    assert (
        standalone("In this study, what effect did metformin have on tumour growth in mice?")
        == "What effect did metformin have on tumour growth in mice?"
    )
    assert standalone("How long does the Aurora battery take to charge according to the passage?") == (
        "How long does the Aurora battery take to charge?"
    )
    assert standalone("What is the primary objective of this study?") is None
    assert standalone("In this study, what were the main findings?") is None  # nothing left to search for
    assert standalone("According to the text, how long is a charge?") is None


def test_a_finding_put_to_the_passage_asks_whether_its_claim_holds():
    from eval.question_filters import standalone

    # the 1.5B's finding questions on SciFact, every one of them rejected as not standalone before, rewrite or not
    assert standalone("Does the passage suggest that SAP-deficient mice have a defect in IL-4 production?") == (
        "Is there evidence that SAP-deficient mice have a defect in IL-4 production?"
    )
    assert (
        standalone("Did the trial show aspirin reduces stroke risk?")
        == "Is there evidence that aspirin reduces stroke risk?"
    )
    assert standalone("Does metformin lower tumour growth in mice?") == "Does metformin lower tumour growth in mice?"
    assert standalone("Does the passage suggest that this study was flawed?") is None  # the claim still points
    assert standalone("Does the passage discuss something?") is None  # nothing to search for
    # an unanswerable question does not say so (the 1.5B echoed its instruction on TAT-QA)
    assert standalone("What was Northwind's e-bike revenue in 2040, a year not covered?") == (
        "What was Northwind's e-bike revenue in 2040?"
    )
    assert standalone("Which drugs were not covered by insurance in 2019?") == (
        "Which drugs were not covered by insurance in 2019?"
    )


def test_a_mangled_figure_is_mended_only_when_the_passage_holds_it():
    from eval.question_filters import well_formed

    passage = ["Mortality fell by 38% and the hazard ratio was 0.30 in the treated group."]
    assert well_formed("{38%}", passage) == "38%"
    assert well_formed(".30", passage) == "0.30"
    assert well_formed("{45%}", passage) is None  # not in the passage: a guess, not a mend
    assert well_formed("0. 30 in the treated group", passage) == "0.30 in the treated group"  # a space in a figure
    assert well_formed("13. 3 years", passage) is None  # mended, but the passage has no 13.3
    assert well_formed("time:10%", passage) is None
    assert well_formed("4.5 hours", passage) == "4.5 hours"  # well formed: as it is


def test_a_question_naming_two_rare_terms_of_its_passage_is_too_specific():
    from eval.generate import Planned, judge
    from eval.question_filters import RareTerms

    passage = "The metalloprotease SPRTN cleaves DNA-protein crosslinks during replication in human cells. " * 3
    filler = [f"Routine record {n} of human cells grown in culture during replication studies." for n in range(999)]
    rare = RareTerms([passage, *filler])
    assert rare.limit == 1
    item = Planned(0, "fact", [chunk(0, passage)])
    drafted = {"question": "What does the metalloprotease SPRTN cut?", "answer": "DNA-protein crosslinks"}
    assert judge(ScriptedLLM([]), item, drafted, [], rare=rare) == (None, "too specific")
    assert item.hint == "metalloprotease, sprtn"  # shown to the model when it rewrites the question
    general = {"question": "Which enzyme removes proteins stuck to DNA while human cells copy it?", "answer": "SPRTN"}
    sample, reason = judge(ScriptedLLM("SPRTN"), item, general, [], rare=rare)
    assert reason == "" and sample["question"] == general["question"]
    assert RareTerms([passage, *filler[:100]]).limit == 0  # under 500 documents, no term is rare


def test_an_unanswerable_question_is_confirmed_by_a_refusal_or_a_made_up_answer():
    from eval.question_filters import unanswered

    assert unanswered("I could not find the answer to that in your documents.", [BATTERY]) == "refused"
    assert unanswered("The passage does not specify the colours.", [BATTERY]) == "refused"
    assert unanswered("It comes in Crimson Red and costs 2,400 euros.", [BATTERY]) == "unsupported"
    assert unanswered("About 4.5 hours with the 4 A charger.", [BATTERY]) == ""  # answered from the passage


def test_a_question_that_holds_its_own_answer_is_rejected():
    from eval.generate import Planned, judge
    from eval.question_filters import gives_away

    assert gives_away("What is the Aurora E-Bike Owner's Manual?", "Aurora E-Bike")
    assert not gives_away("What battery does the Aurora use?", "a 540 Wh lithium-ion battery")
    assert not gives_away("How far does the Aurora go on 540 Wh?", "110 km")
    drafted = {"question": "What is the Aurora E-Bike Owner's Manual?", "answer": "Aurora E-Bike"}
    manual = chunk(0, BATTERY.replace("The Aurora uses", "The Aurora E-Bike uses"))
    assert judge(ScriptedLLM([]), Planned(0, "fact", [manual]), drafted, []) == (
        None,
        "answer in the question",
    )


def test_a_passage_summary_question_asks_what_is_known_and_a_shorter_answer_can_match():
    from eval.question_filters import standalone

    assert standalone("What does the passage about cancer-associated fibroblasts in HCC metastasis say?") == (
        "What is known about cancer-associated fibroblasts in HCC metastasis?"
    )
    assert standalone("What does the passage say about oxidative stress in renal dysfunction?") == (
        "What is known about oxidative stress in renal dysfunction?"
    )
    assert standalone("What does the study about it say?") is None  # nothing named
    question = "What is the main purpose of brine purification in chemical production?"
    reference = "To remove impurities and contaminants from raw materials before they are used for products."
    assert matches("To remove impurities and contaminants from brine.", reference, question=question)
    assert not matches("To concentrate the brine for chemical production.", reference, question=question)
    # the question's own words do not count: "CD150" answers nothing asked about CD150
    assert not matches("CD150 cells.", "CD4 T cell help", question="What is the main function of CD150 in cells?")


def test_a_sentence_with_a_figure_matches_by_its_words_once_the_figure_is_said():
    reference = "A single course of antenatal corticosteroids improves outcomes in offspring born before 34 weeks."
    assert matches(
        "One course of antenatal corticosteroids improves outcomes in offspring born before 34 weeks.", reference
    )
    assert not matches("Antenatal corticosteroids improve outcomes in offspring born before 30 weeks.", reference)
    assert not matches("About 0.35.", "0.32 ± 0.07 mm Hg")  # a figure alone is still compared as a figure


def test_a_figure_with_its_spread_matches_its_value_and_a_sentence_its_meaning_without_a_new_figure():
    assert matches("0.32", "0.32±0.07 mm Hg/L/min/bursts/min")  # the spread and unit aside, the value said
    assert not matches("25%", "20%") and not matches("160 nt", "from 160 to approximately 750 nucleotides")
    from eval.question_filters import well_formed

    assert well_formed("log(1.69)", ["an odds ratio of 1.69"]) is None  # a formula is no reference
    reference = "Rett syndrome is an inherited disorder of females that occurs once in 10,000–15,000 births."
    close = {"Rett syndrome is an inherited neurodevelopmental disorder of females.": 0.94}
    similarity = lambda a, b: close.get(a, 0.5)  # noqa: E731 — the embedder's cosine, scripted
    assert matches(next(iter(close)), reference, similarity, question="What is known about Rett syndrome?")
    # a question asking for a quantity is not answered by the sentence without it
    assert not matches(next(iter(close)), reference, similarity, question="How often does Rett syndrome occur?")
    # nor is a sentence with a figure the reference lacks, however close
    close = {"Rett syndrome occurs once in 5,000 births.": 0.95}
    assert not matches(next(iter(close)), reference, similarity, question="What is known about Rett syndrome?")


def test_an_unanswerable_question_asks_for_a_kind_of_detail_its_passage_holds_none_of():
    from eval.question_filters import absent_detail
    from eval.question_prompts import instruction

    assert "year" in absent_detail(BATTERY)[0]  # no year in the battery passage
    assert "cost" in absent_detail("Founded in 1998, the firm makes e-bikes in Germany.")[0]
    assert "country" in absent_detail("In 2019 the Aurora cost $2,400 at launch.")[0]
    assert absent_detail("In 2019 the Aurora cost $2,400 in the US.") == ("", "")
    planned = plan([chunk(i, BATTERY) for i in range(4)], 40)
    unanswerable = [item for item in planned if item.kind == "unanswerable"]
    assert unanswerable and all("year" in item.absent for item in unanswerable)
    told = instruction("unanswerable", unanswerable[0].absent)
    assert "asks for the year" in told and "not stated" in told


def test_a_made_up_or_title_reference_is_rejected_before_the_check():
    from eval.generate import Planned, judge
    from eval.question_filters import unfounded

    titled = "Charging the Aurora battery\n\n" + BATTERY
    assert unfounded("about 6 hours", [BATTERY]) == "answer not in its passages"
    assert unfounded("a Bosch charger", [BATTERY]) == "answer not in its passages"
    assert unfounded("Charging the Aurora battery.", [titled], "Charging the Aurora battery") == "answer is the title"
    assert unfounded("about 4.5 hours", [titled], "Charging the Aurora battery") == ""
    item = Planned(0, "fact", [chunk(0, titled)])
    drafted = {"question": "How long does the Aurora's battery take to charge?", "answer": "about 6 hours"}
    llm = ScriptedLLM([])  # no call: the reference is rejected before the answerability check
    assert judge(llm, item, drafted, []) == (None, "answer not in its passages")
    drafted = {
        "question": "What is the Aurora manual's chapter on the battery?",
        "answer": "Charging the Aurora battery",
    }
    assert judge(llm, item, drafted, []) == (None, "answer is the title")


def test_a_main_finding_question_is_vague_and_written_once_more_asking_for_its_fact(tmp_path):
    from eval.question_filters import vague

    assert vague("What is the main function of CD150 in T follicular helper cells?")
    assert not vague("How long does the Aurora's battery take to charge?")
    first = {"question": "What is the main finding about the Aurora battery?", "answer": "about 4.5 hours"}
    second = {"question": "How long does a full charge of the Aurora battery take?", "answer": "about 4.5 hours"}
    llm = ScriptedLLM(first, second, "About 4.5 hours.")
    chunks = [chunk(0, BATTERY)]
    summary = generate(chunks, llm, tmp_path / "set.jsonl", 1)
    assert summary.rewritten == 1 and summary.kept == 1
    assert load_qa(tmp_path / "set.jsonl")[0].question == second["question"]
    assert "asks for 'the main' something" in llm.calls[1][1][-1]["content"]  # the model was told why


def test_a_rewritten_unanswerable_question_is_told_to_keep_asking_for_the_missing_detail(tmp_path):
    first = {"question": "When was the study conducted?", "answer": "not stated"}  # points at its passage
    second = {"question": "In what year was the Aurora's battery first sold?", "answer": "not stated"}
    llm = ScriptedLLM(first, second, "I could not find the answer to that in your documents.")
    planned = plan([chunk(0, BATTERY)], 7)
    index = next(item.index for item in planned if item.kind == "unanswerable")
    from eval.generate import judge, write

    item = planned[index]
    assert judge(llm, item, write(llm, item), []) == (None, "not standalone")
    sample, reason = judge(llm, item, write(llm, item, {**first, "reason": "not standalone"}), [])
    assert reason == "" and sample["metadata"]["confirmed"] == "refused"
    assert "must still ask for the year" in llm.calls[1][1][-1]["content"]


def test_a_quantity_asked_needs_a_figure_in_the_reference_and_the_answer_its_first():
    from eval.question_filters import standalone, well_formed

    count = "How many controlled trials on sleepwalking in adults were found?"
    assert well_formed("The passage states that trials were found.", [BATTERY], count) is None  # no figure
    assert well_formed("bytes", [BATTERY], "What is the percentage of patients who died?") is None
    reference = "This review includes six controlled trials (five RCTs and one quasi-RCT)."
    assert well_formed(reference, [reference], count) == reference
    assert matches("Six.", reference, question=count) and matches("6 trials", reference, question=count)
    assert not matches("Five.", reference, question=count)  # a figure of the sentence, not the one asked for
    assert not matches("20 nM", "5 nM", question="What is the concentration of rotenone used?")
    assert standalone("What is the total number of controlled trials included in this systematic review?") is None
    assert standalone("What is the name of the drug discussed in this passage?") is None


def test_a_finding_question_is_a_yes_or_no_question_answered_yes_or_no(tmp_path):
    from eval.generate import Planned, judge
    from eval.question_filters import polar

    assert polar("Does the Aurora's battery keep most of its capacity after years of use?", "Yes, 80 %.") == "Yes"
    assert polar("Is a crash in a race covered by the warranty?", "no") == "No"
    assert polar("How much capacity does the battery keep?", "Yes") is None  # not a yes-or-no question
    assert polar("Does the battery keep its capacity?", "80 percent") is None  # not answered yes or no
    # an either-or question is answered by one of its two, not by Yes (the 1.5B's "Yes" on TAT-QA)
    assert polar("Did Northwind's revenue increase or decrease from 2018 to 2019?", "Yes") is None
    assert polar("Do aspirin or statins lower the risk of stroke?", "Yes") == "Yes"  # "or" between two subjects

    item = Planned(0, "finding", [chunk(0, WARRANTY)])
    asked = {"question": "Are tyres worn out by riding covered by the bike maker's guarantee?", "answer": "No."}
    sample, reason = judge(ScriptedLLM("No, wear parts are not covered."), item, asked, [])
    assert reason == "" and sample["reference"] == "No" and sample["metadata"]["kind"] == "finding"
    assert judge(ScriptedLLM("Yes."), item, asked, []) == (None, "not answerable from its chunks")
    wordy = {"question": "Which parts of the bike does the guarantee leave out?", "answer": "tyres and chains"}
    assert judge(ScriptedLLM(), item, wordy, []) == (None, "malformed answer")


def test_the_kinds_mix_is_chosen_by_name_and_a_wrong_one_is_a_clear_error():
    import pytest

    from eval.generate import parse_shares
    from rag.errors import ConfigError

    assert parse_shares("") is None
    assert parse_shares("fact=1, number=3") == {"fact": 0.25, "number": 0.75}
    chunks = [chunk(i, BATTERY) for i in range(4)]
    assert Counter(item.kind for item in plan(chunks, 8, shares=parse_shares("number=1"))) == {"number": 8}
    for wrong in ("opinion=1", "fact=lots", "fact=0"):
        with pytest.raises(ConfigError, match="--kinds"):
            parse_shares(wrong)


SALES = (
    "Northwind Cycles sold 12,400 e-bikes in 2019 and 10,900 in 2018; its revenue was $31.2 million in 2019 against "
    "$27.5 million in 2018, and the Aurora made up 40 percent of the units sold in both years, the rest city bikes."
)


def test_a_passage_with_years_is_asked_for_a_year_no_document_covers_and_that_needs_no_model_check():
    from eval.generate import judge
    from eval.question_filters import absent_detail

    # 2020 is named by another document, so the first year after the passage's that none names is 2021
    assert absent_detail(SALES, {2018, 2019, 2020}) == (
        "its figures for 2021",
        "2021",
    )
    chunks = [chunk(i, SALES) for i in range(3)] + [chunk(0, WARRANTY + " Updated in 2020.", "warranty.md")]
    item = next(item for item in plan(chunks, 20) if item.kind == "unanswerable" and item.chunks[0].text == SALES)
    assert item.year == "2021" and "2021" in item.absent
    asked = {"question": "How many e-bikes did Northwind Cycles sell in 2021?", "answer": "not stated"}
    llm = ScriptedLLM()  # no answer queued: the model is not asked
    sample, reason = judge(llm, item, asked, [])
    assert reason == "" and sample["metadata"]["confirmed"] == "asks for a year no document covers"
    assert llm.calls == [] and sample["context_ids"] == []
    # a draft that lost the year is checked by the model as before: answered from the passage, rejected
    other = {"question": "How many e-bikes did Northwind Cycles sell in 2019?", "answer": "not stated"}
    assert judge(ScriptedLLM("12,400."), item, other, []) == (None, "answered although unanswerable")


def test_a_computed_reference_is_kept_when_the_calculator_computes_it_from_the_passage():
    from eval.generate import Planned, judge

    item = Planned(0, "number", [chunk(0, SALES)])
    asked = {
        "question": "By how much did Northwind Cycles' revenue increase from 2018 to 2019?",
        "answer": "$3.7 million",
    }
    plan_of = {
        "inputs": [
            {"letter": "a", "name": "revenue 2019", "value": "$31.2 million", "passage": 1},
            {"letter": "b", "name": "revenue 2018", "value": "$27.5 million", "passage": 1},
        ],
        "formula": "a - b",
        "unit": "USD million",
    }
    sample, reason = judge(ScriptedLLM(plan_of), item, asked, [])
    assert (
        reason == ""
        and sample["reference"] == "$3.7 million"
        and sample["metadata"]["checked_answer"] == "3.70 USD million"
    )
    wrong = {**plan_of, "formula": "a + b"}  # the calculator disagrees with the reference: not answerable
    assert judge(ScriptedLLM(wrong), item, asked, []) == (None, "not answerable from its chunks")
    made_up = {"question": "What was Northwind Cycles' revenue in 2017?", "answer": "$25.1 million"}
    assert judge(ScriptedLLM(), item, made_up, []) == (None, "answer not in its passages")  # nothing to compute
