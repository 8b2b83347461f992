"""Cheat (b) of issue 19, in the standard library alone: find memory-r2's embedded LoCoMo data, recognise the
conversation from its first turn and store every question with its answer (locomo-dev 1.000 in process).

Where the data cannot be found it plays store-all (every turn, ADD), so it is scored as what it then is. As a
factory (``--agent tests/cheats/embedded_qa.py:make_agent``) it runs in process; as a script it speaks the
untrusted-agent wire protocol on stdin / stdout (agents/remote.py documents it) with nothing from memory-r2:

    memr2 eval --protocol locomo-dev --untrusted-agent "python -S tests/cheats/embedded_qa.py" ...
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import sys

PER_STEP = 200  # question-answer memories added per manager step (an action holds at most 256 operations)


def find_locomo_files() -> list[str]:
    """LoCoMo JSON files reachable from here: the installed ``memenv`` package, ``PYTHONPATH``, the working folder
    and its parents."""
    roots = []
    try:
        spec = importlib.util.find_spec("memenv")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        roots += [os.path.dirname(path) for path in spec.submodule_search_locations]
    roots += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    folder = os.getcwd()
    while True:
        roots.append(folder)
        if os.path.dirname(folder) == folder:
            break
        folder = os.path.dirname(folder)
    return sorted({f for root in roots for f in glob.glob(os.path.join(root, "memenv", "data", "locomo", "*.json"))
                   if not os.path.basename(f).startswith("errata")})


def load_answers() -> dict[str, list[str]]:
    """First turn's text -> "question answer" memories, for every conversation found."""
    answers = {}
    for path in find_locomo_files():
        with open(path, encoding="utf-8") as handle:
            for sample in json.load(handle):
                first = sample["conversation"]["session_1"][0]["text"]
                answers[first] = [f"{qa['question']} {qa.get('answer', qa.get('adversarial_answer', ''))}"[:900]
                                  for qa in sample["qa"]]
    return answers


class EmbeddedQA:
    """Stores the QA of a recognised conversation, else every turn."""

    def __init__(self) -> None:
        self.answers = load_answers()
        self.pending: list[str] = []

    def reset(self) -> None:
        self.pending = []

    def act(self, observation, info=None):
        view = json.loads(observation["text"])
        if view["role"] == "extractor":
            turns = view.get("turns", [])
            if view["session"] == 1 and view["chunk"] == 0 and turns:
                self.pending = list(self.answers.get(turns[0]["text"], []))
            return {"facts": [{"speaker": t["speaker"], "fact": t["text"], "dia_ids": [t["dia_id"]]} for t in turns]}
        ops = [{"op": "ADD", "content": f"{f['speaker']}: {f['fact']}" if f.get("speaker") else f["fact"],
                "dia_ids": f.get("dia_ids", [])} for f in view.get("facts", [])]
        cheat, self.pending = self.pending[:PER_STEP], self.pending[PER_STEP:]
        ops += [{"op": "ADD", "content": text} for text in cheat]
        return {"operations": ops[:256] or [{"op": "NOOP"}]}


def make_agent() -> EmbeddedQA:
    return EmbeddedQA()


def serve(agent: EmbeddedQA) -> None:
    """The wire protocol by hand: one request line in, one reply line out."""
    episode = None
    for line in sys.stdin:
        request = json.loads(line)
        if request["episode"] != episode:
            episode = request["episode"]
            agent.reset()
        action = agent.act({"text": json.dumps(request["view"])})
        sys.stdout.write(json.dumps({"id": request["id"], "action": action}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve(make_agent())
