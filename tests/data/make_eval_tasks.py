"""Write tests/data/eval_tasks/: lm-eval task YAMLs and their JSONL data, in the formats of the real benchmarks.

Three tasks, each in the record format of the dataset its name recalls, with examples written
for this test (not taken from the datasets): a two-choice task as PIQA's (goal, sol1, sol2, label),
a four-choice task as ARC's (question, choices {text, label}, answerKey), a short-answer generation
task as TriviaQA's (question, answer {value, aliases}) and a rolling log-likelihood task over
plain text (as wikitext's "page"). The YAMLs name their data relative to the task folder:
`llamapipe eval` runs lm-eval from there. Run: python tests/data/make_eval_tasks.py
"""
from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).parent / "eval_tasks"

PIQA = [
    ("To keep bread fresh for longer,", "store it in a sealed bag.", "leave it open on a sunny windowsill.", 0),
    ("To cool a hot cup of tea quickly,", "put it in the oven.", "pour it into a wide, shallow bowl.", 1),
    ("To find a lost phone in the house,", "call it from another phone.", "turn off every light.", 0),
    ("To dry wet shoes,", "fill them with newspaper.", "fill them with water.", 0),
]
ARC = [
    ("Which of these is a source of light?", ["a rock", "the Sun", "a chair", "a spoon"], "B"),
    ("What do plants need to make food?", ["sunlight", "sand only", "plastic", "darkness"], "A"),
    ("Water turns to ice when it is", ["heated", "stirred", "frozen", "poured"], "C"),
]
TRIVIA = [
    ("What is the capital city of France", "Paris", ["Paris", "paris"]),
    ("How many days are there in a week", "seven", ["seven", "7"]),
]
PAGES = [
    "The river runs through the old town. In the spring the water rises and the bridges are closed.",
    "A library keeps books, maps and newspapers. Readers may borrow books for three weeks.",
]

TASKS = {
    "piqa_local": """task: piqa_local
dataset_path: json
dataset_kwargs:
  data_files:
    validation: data/piqa_local.jsonl
output_type: multiple_choice
validation_split: validation
doc_to_text: "Question: {{goal}}\\nAnswer:"
doc_to_target: label
doc_to_choice: "{{[sol1, sol2]}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
""",
    "arc_easy_local": """task: arc_easy_local
dataset_path: json
dataset_kwargs:
  data_files:
    test: data/arc_easy_local.jsonl
output_type: multiple_choice
test_split: test
doc_to_text: "Question: {{question}}\\nAnswer:"
doc_to_target: "{{choices.label.index(answerKey)}}"
doc_to_choice: "{{choices.text}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
""",
    "triviaqa_local": """task: triviaqa_local
dataset_path: json
dataset_kwargs:
  data_files:
    validation: data/triviaqa_local.jsonl
output_type: generate_until
validation_split: validation
doc_to_text: "Question: {{question}}?\\nAnswer:"
doc_to_target: "{{answer.aliases}}"
target_delimiter: " "
generation_kwargs:
  until:
    - "\\n"
    - "."
    - ","
  do_sample: false
  temperature: 0.0
  max_gen_toks: 8
filter_list:
  - name: remove_whitespace
    filter:
      - function: remove_whitespace
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_case: true
    ignore_punctuation: true
metadata:
  version: 1.0
""",
    "pages_local": """task: pages_local
dataset_path: json
dataset_kwargs:
  data_files:
    test: data/pages_local.jsonl
output_type: loglikelihood_rolling
test_split: test
doc_to_text: ""
doc_to_target: "{{page}}"
metric_list:
  - metric: word_perplexity
  - metric: byte_perplexity
  - metric: bits_per_byte
metadata:
  version: 1.0
""",
}


def records() -> dict[str, list[dict]]:
    """Each task's JSONL records."""
    return {
        "piqa_local": [{"goal": g, "sol1": a, "sol2": b, "label": y} for g, a, b, y in PIQA],
        "arc_easy_local": [{"id": f"local-{i}", "question": q, "choices": {"text": c, "label": list("ABCD")},
                            "answerKey": k} for i, (q, c, k) in enumerate(ARC)],
        "triviaqa_local": [{"question": q, "answer": {"value": v, "aliases": a}} for q, v, a in TRIVIA],
        "pages_local": [{"page": p} for p in PAGES],
    }


def main() -> None:
    (OUT / "data").mkdir(parents=True, exist_ok=True)
    for name, rows in records().items():
        (OUT / "data" / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        (OUT / f"{name}.yaml").write_text(TASKS[name], encoding="utf-8")


if __name__ == "__main__":
    main()
