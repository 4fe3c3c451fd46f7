"""The paper's relation QA (`cim eval --qa-questions --qa-model`): the answer parser on hand-made replies, the
release's scoring, both question-file layouts, bad options, and the whole command on a tiny random-init LLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cim.cli import app
from cim.errors import InputError, OptionError
from cim.eval.llm_relation_qa import INSTRUCTION, RelationQA, build_prompt, render_prompts, setup_relation_qa
from cim.eval.qa_answers import ImageScore, parse_answers, score_answers, score_reply
from cim.eval.qa_questions import QAQuestion, read_questions

# (kind of messiness, reply, number of questions, answers read)
REPLIES = [
    ("case", "yes\nNO\nYes", 3, ["Yes", "No", "Yes"]),
    ("punctuation", "Yes.\nNo!\n'yes',", 3, ["Yes", "No", "Yes"]),
    (
        "numbering styles",
        "1. Yes\n2) No\n(3) yes\nQ4: n/a\nAnswer 5 - No",
        5,
        ["Yes", "No", "Yes", "n/a", "No"],
    ),
    ("comma-separated on one line", "Yes, No, yes", 3, ["Yes", "No", "Yes"]),
    ("semicolon-separated on one line", "Yes; no; N/A", 3, ["Yes", "No", "n/a"]),
    ("inline numbering on one line", "1. Yes 2. No, 3) n/a", 3, ["Yes", "No", "n/a"]),
    ("missing slots", "1. Yes\n2. No", 4, ["Yes", "No", None, None]),
    ("extra text", "Yes, the cat is left of the dog.\nNo - the dog is not above it", 2, ["Yes", "No"]),
    ("extra text, numbered", "1. Yes, it is 2.5 m to the left. 2. No; the dog is below.", 2, ["Yes", "No"]),
    (
        "n/a spellings",
        "n/a\nN/A\nNA\nNot applicable\nunknown\ncannot be determined\nCan't tell",
        7,
        ["n/a"] * 7,
    ),
    ("thinking block", "<think>\n1. No\n2. No\n</think>\n\n1. Yes\n2. Yes", 2, ["Yes", "Yes"]),
    ("thinking opened by the prompt", "The caption says... 1. No</think>\n1. Yes\n2. No", 2, ["Yes", "No"]),
    ("thinking cut off", "1. Yes\n<think>\nwait, 2. No", 2, ["Yes", None]),
    ("extra answers ignored", "Yes\nNo\nYes\nNo", 2, ["Yes", "No"]),
    ("extra numbered answers ignored", "1. Yes\n2. No\n3. Yes\n7. No", 2, ["Yes", "No"]),
    ("out-of-order numbering", "3. No\n1. Yes\n2. n/a", 3, ["Yes", "n/a", "No"]),
    ("echoed questions", "1. Is the cat left of the dog? Yes\n2. Is it red?\nno", 2, ["Yes", "No"]),
    ("markdown and a preamble", "Here are the answers:\n1. **Yes**\n2. `No`", 2, ["Yes", "No"]),
    ("numbered answers win over an unnumbered one", "Yes, here they are:\n1. No\n2. No", 2, ["No", "No"]),
    ("'the answer is'", "The answer is no.", 1, ["No"]),
    ("nothing readable", "I am not able to help with that.", 2, [None, None]),
    ("an empty reply", "", 2, [None, None]),
]


@pytest.mark.parametrize(("kind", "reply", "n", "expected"), REPLIES, ids=[r[0] for r in REPLIES])
def test_the_parser_reads_one_answer_per_slot(kind, reply, n, expected):
    assert parse_answers(reply, n) == expected


def test_scoring_is_an_exact_match_and_n_a_and_missing_are_wrong():
    truth = ["Yes", "Yes", "No", "Yes", "No"]
    assert score_answers(["Yes", "No", "n/a", None, "No"], truth) == ImageScore(
        questions=5, correct=2, truth_yes=3, na=1, missing=1
    )
    assert score_answers(["yes"], ["Yes"]).correct == 0  # the comparison itself is case-sensitive
    assert score_reply("1. yes\n2. N/A\n3. No, it is right of it", truth[:3]) == ImageScore(
        questions=3, correct=2, truth_yes=2, na=1, missing=0
    )
    assert score_reply("Yes", ["No", "No"]) == ImageScore(
        questions=2, correct=0, truth_yes=0, na=0, missing=1
    )
    with pytest.raises(ValueError, match="2 answers for 1 questions"):
        score_answers(["Yes", "No"], ["Yes"])


SC_FILE = {  # SC-Captioner's layout (github.com/zl2048/SC-Captioner, evaluate_cocoln500/questions_cocoln500.json)
    "000000001268": {"Is the woman beside the path?": "Yes", "Are boats in the water?": "No"},
    "test_00001": {"Is the turtle on the trunk?": "Yes"},
}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_both_layouts_are_detected_and_keep_the_question_order(tmp_path):
    sc = tmp_path / "questions_cocoln500.json"
    sc.write_text(json.dumps(SC_FILE, indent=4))
    expected = {
        image: [QAQuestion(question=q, answer=a) for q, a in questions.items()]
        for image, questions in SC_FILE.items()
    }
    assert read_questions(sc) == expected
    ours = [{"id": image, "questions": [q.model_dump() for q in qs]} for image, qs in expected.items()]
    assert read_questions(write_jsonl(tmp_path / "ours.jsonl", ours)) == expected
    one_line = write_jsonl(tmp_path / "one.jsonl", ours[:1])  # a single JSON object that is a JSONL line
    assert read_questions(one_line) == {"000000001268": expected["000000001268"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"q:\s*no questions \(the file is empty\)"),
        (
            '{\n  "a": {"Is it?": "Yes"},\n  "b": {"Is it?": "Yes"\n}',
            r"q: malformed JSON: .*\(line 4, column",
        ),
        (
            json.dumps({"img": {"Is it left?": "yes"}}),
            r"q: image 'img', question 'Is it left\?': answer must be 'Yes' or 'No', got 'yes'",
        ),
        (json.dumps({"img": ["Is it left?", "Yes"]}), r"q: image 'img': expected a non-empty object"),
        (json.dumps({"img": {}}), r"q: image 'img': expected a non-empty object"),
        (json.dumps([{"question": "Is it?", "answer": "Yes"}]), r"q: expected a JSON object of image id"),
        (
            json.dumps({"id": "a", "questions": [{"question": "Is it?", "answer": "Yes"}]})
            + "\n"
            + json.dumps({"id": "b", "questions": [{"question": "Is it?", "answer": "Maybe"}]}),
            r"q:2: questions\.0\.answer: .*'Yes' or 'No'",
        ),
        (
            json.dumps({"id": "a", "questions": [{"question": "Is it?", "answer": "Yes"}]}) + "\n{not json\n",
            r"q:2: malformed JSON",
        ),
        (
            json.dumps({"id": "a", "questions": [{"question": "Is it?", "answer": "Yes"}]})
            + "\n"
            + json.dumps({"id": "b", "questions": []}),
            r"q:2: questions: .*at least 1",
        ),
        (
            (json.dumps({"id": "a", "questions": [{"question": "Is it?", "answer": "No"}]}) + "\n") * 2,
            r"q:2: duplicate id 'a' \(first on line 1\)",
        ),
    ],
    ids=[
        "empty",
        "broken JSON",
        "lowercase truth",
        "not an object",
        "no questions",
        "a list",
        "bad answer",
        "bad line",
        "empty list",
        "duplicate id",
    ],
)
def test_malformed_question_files_name_where(tmp_path, text, message):
    path = tmp_path / "q"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_questions(path)


def test_the_prompt_numbers_the_questions_and_thinking_is_switched_off(tiny_llm):
    from cim.eval.llm_relation_qa import load_tokenizer

    questions = [
        QAQuestion(question="Is the cat left of the dog?", answer="Yes"),
        QAQuestion(question="Is it red?", answer="No"),
    ]
    prompt = build_prompt("  A cat and a dog. ", questions)
    assert (
        "Description:\nA cat and a dog.\n\nQuestions:\n1. Is the cat left of the dog?\n2. Is it red?\n\n"
        in prompt
    )
    assert prompt.startswith(INSTRUCTION.split("{n}")[0] + "2 yes/no questions")
    (chat,), add_special = render_prompts(load_tokenizer(str(tiny_llm)), [prompt])
    assert (
        chat == f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
        and not add_special
    )

    class Plain:
        chat_template = None

    assert render_prompts(Plain(), [prompt]) == ([prompt], True)


def test_bad_qa_options(tmp_path, tiny_llm):
    from cim.encoders.sbert import bundled_minilm_path

    questions = tmp_path / "q.json"
    questions.write_text(json.dumps(SC_FILE))
    assert setup_relation_qa(None, None) is None
    with pytest.raises(OptionError, match="--qa-model needs --qa-questions too"):
        setup_relation_qa(None, str(tiny_llm))
    with pytest.raises(OptionError, match="--qa-questions needs --qa-model too"):
        setup_relation_qa(questions, None)
    with pytest.raises(InputError, match="nope.json: questions file not found"):
        setup_relation_qa(tmp_path / "nope.json", str(tiny_llm))
    with pytest.raises(OptionError, match=r"a bert model \(BertModel\) is not a causal language model"):
        setup_relation_qa(questions, bundled_minilm_path())
    with pytest.raises(OptionError, match="not a model folder, nor a hub model available here"):
        setup_relation_qa(questions, str(tmp_path))
    with pytest.raises(OptionError, match="'batch_size'.*greater than or equal to 1"):
        setup_relation_qa(questions, str(tiny_llm), batch_size=0)
    with pytest.raises(OptionError, match="'backend'"):
        setup_relation_qa(questions, str(tiny_llm), backend="llama.cpp")


CHAT_TEMPLATE = (  # Qwen3's turn format, reduced; an empty thinking block when enable_thinking is false
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\\n\\n</think>\\n\\n' }}{% endif %}{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory) -> Path:
    """A random-init Qwen3 causal LM (hidden size 32, 2 layers) with a byte-level BPE tokenizer trained here."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    out = tmp_path_factory.mktemp("tiny_llm")
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(
        [INSTRUCTION, "1. Yes\n2. No\n3. n/a", "a red circle is left of a blue square"], trainer
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=CHAT_TEMPLATE
    )
    tokenizer.save_pretrained(out)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    Qwen3ForCausalLM(config).save_pretrained(out)
    return out


CAPTIONS = {
    "item-0": "A red circle is left of a blue square.",
    "item-1": "Two dogs sit on a sofa.",
    "item-2": "A boat on a lake.",
    "item-3": "An empty room.",
}
QUESTIONS = {  # item-3 has none; item-99 has no caption
    "item-0": [("Is the circle left of the square?", "Yes"), ("Is the square red?", "Yes")],
    "item-1": [
        ("Are the dogs on the sofa?", "Yes"),
        ("Is the sofa on the dogs?", "No"),
        ("Is there a cat?", "No"),
    ],
    "item-2": [("Is the boat on the lake?", "Yes")],
    "item-99": [("Is it?", "Yes")],
}


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    captions = write_jsonl(
        tmp_path / "captions.jsonl", [{"id": i, "caption": c, "source_id": i} for i, c in CAPTIONS.items()]
    )
    rows = [
        {"id": i, "questions": [{"question": q, "answer": a} for q, a in qs]} for i, qs in QUESTIONS.items()
    ]
    return captions, write_jsonl(tmp_path / "questions.jsonl", rows)


class CannedAnswerer:
    """Replies written by hand, chosen by the caption in the prompt."""

    REPLIES = {"item-0": "1. Yes\n2. No", "item-1": "yes, n/a, no", "item-2": ""}

    def replies(self, prompts):
        return [next(self.REPLIES[i] for i, c in CAPTIONS.items() if c in p) for p in prompts]


def test_evaluate_scores_hand_made_replies_exactly(random_gallery, files):
    from cim.eval.evaluate import evaluate, to_markdown
    from cim.reward.scorer import CIMScorer

    captions, questions = files
    qa = RelationQA(read_questions(questions), str(questions), "canned", CannedAnswerer())
    result = evaluate([captions], CIMScorer(random_gallery, device="cpu"), resamples=50, relation_qa=qa)
    # 6 questions: item-0 1 correct, item-1 2 correct + 1 n/a, item-2 1 missing
    summary = result.relation_qa_llm[str(captions)]
    assert (summary.images, summary.images_without_caption, summary.questions) == (3, 1, 6)
    assert (summary.accuracy, summary.yes_share, summary.na_share, summary.missing_share) == (
        0.5,
        4 / 6,
        1 / 6,
        1 / 6,
    )
    metrics = result.files[str(captions)]
    assert (
        metrics["relation_qa_llm"].mean == pytest.approx(0.5) and metrics["relation_qa_llm"].n == 3
    )  # over questions
    assert metrics["relation_qa_llm_na"].mean == pytest.approx(1 / 6)
    assert metrics["relation_qa_llm_missing"].mean == pytest.approx(1 / 6)
    markdown = to_markdown(result)
    assert (
        "| relation_qa_llm | 0.5000 [" in markdown
        and "| 3 | 1 | 6 | 0.5000 | 0.6667 | 0.1667 | 0.1667 |" in markdown
    )


def test_without_the_qa_options_nothing_changes(random_gallery, files):
    from cim.eval.evaluate import evaluate, to_markdown
    from cim.reward.scorer import CIMScorer

    captions, _ = files
    result = evaluate([captions], CIMScorer(random_gallery, device="cpu"), resamples=50)
    assert result.relation_qa_llm is None and not any(
        m.startswith("relation_qa_llm") for m in result.files[str(captions)]
    )
    assert "relation_qa_llm" not in to_markdown(result)


def test_no_caption_with_questions_is_refused_before_scoring(random_gallery, files, tmp_path):
    from cim.eval.evaluate import evaluate
    from cim.reward.scorer import CIMScorer

    captions, _ = files
    other = tmp_path / "other.json"
    other.write_text(json.dumps(SC_FILE))
    qa = RelationQA(read_questions(other), str(other), "canned", CannedAnswerer())
    with pytest.raises(
        InputError,
        match=r"captions.jsonl: no caption id has questions in .*other.json \(caption ids look like 'item-0', question ids like '000000001268'\)",
    ):
        evaluate([captions], CIMScorer(random_gallery, device="cpu"), relation_qa=qa)


def test_cim_eval_runs_the_relation_qa_on_a_tiny_llm(random_gallery, files, tiny_llm, tmp_path):
    captions, questions = files
    second = write_jsonl(
        tmp_path / "second.jsonl",
        [{"id": i, "caption": c.upper(), "source_id": i} for i, c in CAPTIONS.items()],
    )
    args = [
        "eval",
        "--captions",
        str(captions),
        str(second),
        "--gallery",
        str(random_gallery),
        "--device",
        "cpu",
        "--resamples",
        "50",
        "--qa-questions",
        str(questions),
        "--qa-model",
        str(tiny_llm),
        "--qa-device",
        "cpu",
        "--qa-batch-size",
        "2",
        "--qa-max-new-tokens",
        "6",
        "--out-json",
        str(tmp_path / "r.json"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "r.json").read_text())
    for path in (captions, second):
        qa = saved["relation_qa_llm"][str(path)]
        assert qa["model"] == str(tiny_llm) and (
            qa["images"],
            qa["images_without_caption"],
            qa["questions"],
        ) == (3, 1, 6)
        assert qa["yes_share"] == pytest.approx(4 / 6)
        # a random model's numbers mean nothing; the plumbing does
        assert qa["accuracy"] + qa["na_share"] + qa["missing_share"] <= 1 + 1e-9
        assert saved["files"][str(path)]["relation_qa_llm"]["mean"] == pytest.approx(qa["accuracy"])
    assert "relation_qa_llm" in saved["comparisons"][0]["metrics"]
    assert "**relation_qa_llm** (the paper's protocol)" in result.output


def test_cim_eval_bad_qa_options_are_one_line_errors(random_gallery, files, tmp_path):
    captions, questions = files
    base = ["eval", "--captions", str(captions), "--gallery", str(random_gallery), "--device", "cpu"]
    for extra, message in [
        (["--qa-model", str(tmp_path)], "error: --qa-model needs --qa-questions too"),
        (
            ["--qa-questions", str(tmp_path / "missing.json"), "--qa-model", "x"],
            "missing.json: questions file not found",
        ),
    ]:
        result = CliRunner().invoke(app, base + extra)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
