"""A third-party memory agent: keeps every first-person statement, merging repeats into the memory it updates.

Evaluate it with:  memr2 eval --env MemoryR2/Synthetic-v0 --agent my_agent:make_agent --episodes 2
(run from this folder), or from anywhere with --agent path/to/my_agent.py:make_agent.
"""


class KeepStatements:
    def act(self, observation, info):
        view = info["view"]  # a memenv.views model; memenv.parse_view(observation) rebuilds it from the text
        if view.role == "extractor":
            facts = [{"speaker": t.speaker, "fact": t.text, "dia_ids": [t.dia_id]}
                     for t in view.turns if " I " in f" {t.text} " or "my " in t.text.lower()]
            return {"facts": facts}
        ops = []
        for fact in view.facts:
            related = fact.related[:1]  # best BM25 match among existing memories, if any
            if related:
                ops.append({"op": "UPDATE", "memory_id": related[0], "content": fact.fact})
            else:
                ops.append({"op": "ADD", "content": fact.fact, "speaker": fact.speaker})
        return {"operations": ops or [{"op": "NOOP"}]}


def make_agent(**kwargs):
    return KeepStatements()
