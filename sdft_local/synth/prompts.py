"""The prompt a synthesis model gets for a turn-3 answer.

Owns the system instruction, the one worked example (small local models follow an example far
better than an instruction) and `entity_messages`, which renders an `EntityRequest` as chat
messages — with the base model's caption standing in for the photo when the backend cannot see it.
The example's subject is never one of the project's names, and `example_names` lets validation
reject answers that copy one. It sends nothing and loads nothing.
"""

from __future__ import annotations

from ..dialogue.answers import EntityRequest, a_kind

SYSTEM = (
    "You answer one question about a photo of a subject the user knows. Reply in two or three "
    "sentences: first what is visible in the photo, then who this is (say the name), then the "
    "fact that answers the question. Use only the facts given; never invent others."
)

_EXAMPLES = (
    {"name": "Mochi", "kind": "cat", "facts": ("7 years old", "sleeps on the piano"),
     "caption": "A gray cat sitting on a sunny windowsill.",
     "question": "Where does the cat in this photo like to sleep?", "fact": "sleeps on the piano",
     "answer": "I can see a gray cat resting on a sunny windowsill. That is Mochi, a cat. "
               "Mochi usually sleeps on the piano."},
    {"name": "Pepper", "kind": "parrot", "facts": ("can say hello", "eats sunflower seeds"),
     "caption": "A green parrot perched on a wooden branch.",
     "question": "What does Pepper eat?", "fact": "eats sunflower seeds",
     "answer": "A green parrot is perched on a wooden branch here. This is Pepper. "
               "Pepper eats sunflower seeds."},
    {"name": "Juniper", "kind": "plant", "facts": ("a gift from my sister", "flowers in May"),
     "caption": "A potted plant with small white flowers on a kitchen table.",
     "question": "Who is this?", "fact": None,
     "answer": "There is a potted plant with small white flowers on a kitchen table. This is "
               "Juniper, a plant. Juniper was a gift from your sister."},
)


def example_for(request: EntityRequest) -> dict:
    """The first worked example whose subject shares no name with the project's. The same one
    for every request of a project, so local engines keep the shared prompt prefix cached."""
    taken = {request.name.lower(), *(o.lower() for o in request.others)}
    return next(e for e in _EXAMPLES if e["name"].lower() not in taken)


def example_names() -> tuple[str, ...]:
    return tuple(e["name"] for e in _EXAMPLES)


def example_facts(request: EntityRequest) -> tuple[tuple[str, str], ...]:
    """(name, fact) of the worked example `request` is shown: an answer must not copy them."""
    ex = example_for(request)
    return tuple((ex["name"], f) for f in (*ex["facts"], ex["caption"]))


def entity_messages(request: EntityRequest, *, with_image: bool) -> list[dict]:
    """System, a worked example (user + assistant), then the request as the last user turn."""
    ex = example_for(request)
    example = EntityRequest(ex["name"], ex["kind"], ex["facts"], ex["question"], ex["fact"],
                            caption=ex["caption"])
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": _user_text(example, with_image=False)},
        {"role": "assistant", "content": ex["answer"]},
        {"role": "user", "content": _user_text(request, with_image=with_image)},
    ]


def _user_text(request: EntityRequest, *, with_image: bool) -> str:
    # The fact asked, alone: given all of them, small models state whichever comes first.
    facts = request.fact or ("; ".join(request.facts) if request.facts else "none given")
    lines = []
    if with_image:
        lines.append("Look at the attached photo.")
    if request.caption:
        lines.append(f"Caption: {request.caption}")
    elif not with_image:
        lines.append(f"Caption: A photo of {a_kind(request.kind)}.")
    need = f"name {request.name}" + (f" and say the fact '{request.fact}'" if request.fact else "")
    lines += [
        f"Subject: {request.name}, {a_kind(request.kind)}.",
        f"{'Fact' if request.fact else 'Facts'}: {facts.rstrip('.')}.",
        f"Question: {request.question}",
        f"The answer must {need}.",
    ]
    return "\n".join(lines)
