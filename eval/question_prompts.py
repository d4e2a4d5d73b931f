"""What the test-set generator (eval/generate.py) tells the model: the JSON it writes, one instruction per question
kind, and what it is told when a draft is rejected and written once more."""

from __future__ import annotations

QUESTION_SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string", "maxLength": 300}, "answer": {"type": "string", "maxLength": 300}},
    "required": ["question", "answer"],
}
_NAMED = (
    " The question must make sense to someone searching a library who has never seen the passage: name its subject "
    "(what it is about: a drug, a product, a company), never 'this study', 'the passage' or 'the author'."
)
_STANDALONE = _NAMED + " The answer is short: a few words or one figure."
INSTRUCTIONS = {
    "fact": "Write one question a reader could ask, answered by a fact stated in the passage, and its short answer. "
    "Use your own words; do not copy a sentence." + _STANDALONE,
    # a reader's question about what the passage establishes, as a citing author or a searcher puts it (Ragas'
    # "abstract" queries; SciFact's human claims): on SciFact the detail questions of the other kinds were the ones
    # where dense retrieval lost to BM25, which the human claims rank the other way
    "finding": "Write one yes-or-no question a reader who has not seen the passage would ask about what it finds "
    "or concludes (whether one thing affects, causes, raises, lowers or goes with another), in general words rather "
    "than the passage's own, and its answer: Yes or No." + _NAMED,
    "number": "Write one question whose answer is a figure stated in the passage (an amount, a count, a date, a "
    "percentage), and the answer with its unit. Use your own words; do not copy a sentence." + _STANDALONE,
    "comparison": "Write one question that needs BOTH passages to answer (a comparison or a combination of what "
    "each says), and its short answer." + _STANDALONE,
    "unanswerable": "Write one question about the same subject as the passage that the passage does NOT answer "
    "(it asks for something the passage does not say). The answer must be exactly: not stated." + _STANDALONE,
}
# No worked example in the prompt: the 0.5B wrote the example's own question for passages of the e-bike manual it
# came from (and a question copied from an example is as bad on any corpus).
REDO = {  # what the model is told when its draft is rejected ({hint}: the passage's subject, or the rare terms)
    "not standalone": "That question points at the passage instead of naming its subject. Rewrite it so that it "
    "names the subject (the passage comes from: {hint}) and makes sense on its own, still asking what the passage "
    "says, not what its title is.",
    "copies its passage": "That question copies the passage's wording. Rewrite it in other words (synonyms, another "
    "order), keeping its subject named and its answer the same.",
    "vague": "That question asks for 'the main' something, which the passage may answer in more than one way. "
    "Rewrite it to ask for exactly the fact your answer states, keeping its subject named and its answer the same.",
    "too specific": "That question names {hint}: terms only this passage uses, which someone searching would not "
    "know. Rewrite it describing them in general words (name at most one), keeping its answer the same.",
}


def instruction(kind: str, absent: str = "") -> str:
    """The instruction for a question of `kind`; an unanswerable one asks for the kind of detail `absent`."""
    if kind == "unanswerable" and absent:
        return (
            f"Write one question about the passage's subject that asks for {absent}. The passage gives none, so "
            "it does NOT answer it. The answer must be exactly: not stated." + _STANDALONE
        )
    return INSTRUCTIONS[kind]


def redo(reason: str, hint: str, absent: str = "") -> str:
    """What the model is told when its draft was rejected for `reason` (an unanswerable one must keep asking for
    the detail `absent`)."""
    told = REDO[reason].format(hint=hint)
    if absent:  # a rewrite must not lose what makes it unanswerable
        told += f" It must still ask for {absent}, which the passage does not give; the answer: not stated."
    return told
