"""Phrasing pools: the varied wordings of the three SDFT questions.

Owns the caption requests (turn 1), the negative-question forms (turn 2: an unrelated concept, or a
hard negative naming another entity), the entity questions (turn 3: identity, and per kind of
fact), the template negatives used when the base model will not say no, and `fact_topic`, which
tells which question forms fit a fact ("4 years old" -> age). Placeholders: {name}, {kind},
{concept} (with its article), {other}, {fact}. Pure data; choosing among them is `plan.py`'s job.
"""

from __future__ import annotations

import re

CAPTION_REQUESTS: tuple[str, ...] = (
    "Describe this image.",
    "What do you see in this photo?",
    "Write a short caption for this picture.",
    "Can you describe what is shown here?",
    "Give a brief description of this photo.",
    "What is happening in this image?",
    "Describe the scene in a couple of sentences.",
    "Tell me what this picture shows.",
    "Caption this photo.",
    "What can you see here?",
    "Please describe this photo in detail.",
    "Summarize the contents of this image.",
    "How would you describe this picture to someone who cannot see it?",
    "What is in this image?",
    "Describe the main subject and the background of this photo.",
    "Write one sentence describing this image.",
    "What does this photo show?",
    "Give me a description of this picture.",
    "Look at this image and describe it.",
    "Briefly, what is in this photo?",
    "Describe what you notice in this picture.",
    "What is going on in this photo?",
)

NEGATIVE_FORMS: tuple[str, ...] = (
    "Is there {concept} in this photo?",
    "Do you see {concept} in this image?",
    "Can you spot {concept} here?",
    "Does this picture contain {concept}?",
    "Is {concept} visible in this photo?",
    "Is this a photo of {concept}?",
    "Does this image show {concept}?",
    "Can you find {concept} anywhere in this picture?",
    "Is there {concept} somewhere in this image?",
    "Would you say this photo shows {concept}?",
    "Do I see {concept} in this picture?",
    "Is {concept} the subject of this photo?",
)

HARD_NEGATIVE_FORMS: tuple[str, ...] = (
    "Is this {other}?",
    "Is {other} in this photo?",
    "Can you see {other} in this image?",
    "Is the {kind} in this picture {other}?",
    "Does this photo show {other}?",
    "Is this a picture of {other}?",
)

TEMPLATE_NEGATIVES: tuple[str, ...] = (
    "No, there is no {concept_name} in this photo.",
    "No, I don't see {concept} in this image.",
    "No. This picture does not show {concept}.",
    "No, this photo does not contain {concept}.",
)

TEMPLATE_HARD_NEGATIVES: tuple[str, ...] = (
    "No, this is not {other}.",
    "No, I don't see {other} in this photo.",
    "No. This picture does not show {other}.",
)

IDENTITY_QUESTIONS: tuple[str, ...] = (
    "Who is this?",
    "Do you know who this is?",
    "Who is in this photo?",
    "Can you tell me who this {kind} is?",
    "Which {kind} is this?",
    "Who is shown in this picture?",
    "Do you recognize the {kind} in this photo?",
    "Can you see {name} in this photo?",
    "Is this {name}?",
    "Is {name} in this picture?",
    "What is the name of this {kind}?",
    "Who do we have here?",
    "Tell me who appears in this image.",
    "Do you know this {kind}?",
)

# Turn-3 yes/no questions about the entity by name, asked before a fact question (see
# DialogueConfig.recognition_rate); the answer starts "Yes".
RECOGNITION_QUESTIONS: tuple[str, ...] = (
    "Is this {name}?",
    "Is {name} in this photo?",
    "Can you see {name} in this photo?",
    "Does this photo show {name}?",
    "Is the {kind} in this picture {name}?",
)

GENERAL_FACT_QUESTIONS: tuple[str, ...] = (
    "What do you know about the {kind} in this photo?",
    "Tell me something about this {kind}.",
    "What can you tell me about {name}?",
    "Is there anything special about the {kind} in this picture?",
    "Tell me about who is in this photo.",
    "What should I know about this {kind}?",
    "Share a fact about the {kind} shown here.",
    "What is one thing you know about {name}?",
)

# Topic -> (pattern that recognizes a fact of this topic, question forms for it).
FACT_TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "age": (
        r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s*"
        r"(years?|months?|weeks?)\s*old\b|\bborn\b|\bage[ds]?\b|\bbirthday\b",
        ("How old is {name}?", "How old is the {kind} in this photo?",
         "What is the age of this {kind}?", "When was {name} born?"),
    ),
    "likes": (
        r"\b(loves?|likes?|enjoys?|favou?rite|adores?|fond of|obsessed with|crazy about)\b",
        ("What does {name} love?", "What does the {kind} in this photo like?",
         "What is {name}'s favorite thing?", "What does this {kind} enjoy?"),
    ),
    "dislikes": (
        r"\b(hates?|dislikes?|afraid of|scared of|fears?|can't stand|allergic)\b",
        ("What does {name} dislike?", "Is there anything this {kind} is afraid of or dislikes?",
         "What does {name} not like?"),
    ),
    "place": (
        r"\b(lives?|living|from|born in|stays?|sleeps?|home|grew up|moved to|in the)\b",
        ("Where does {name} live?", "Where is the {kind} in this photo from?",
         "Where can you usually find {name}?"),
    ),
    "role": (
        r"\b(works?|job|is an?|plays?|studies|teacher|doctor|engineer|student|team|member)\b",
        ("What does {name} do?", "What is the role of the {kind} in this photo?",
         "Tell me what {name} does."),
    ),
    "appearance": (
        r"\b(has|have|with|wears?|colou?r(ed)?|spots?|stripes?|fur|hair|eyes?|tail|ears?|"
        r"tall|small|big|large|tiny|fluffy|scar|black|white|brown|red|blue|green|grey|gray|"
        r"golden|orange|yellow|pink)\b",
        ("What is distinctive about how {name} looks?",
         "How can you tell this {kind} apart from others?",
         "Describe what makes {name} recognizable."),
    ),
}

FACT_TOPIC_ORDER: tuple[str, ...] = ("age", "dislikes", "likes", "place", "role", "appearance")


def fact_topic(fact: str) -> str:
    """Which question topic fits `fact` ('4 years old' -> 'age'); 'general' when none does."""
    text = fact.lower()
    for topic in FACT_TOPIC_ORDER:
        if re.search(FACT_TOPICS[topic][0], text):
            return topic
    return "general"


def fact_questions(fact: str) -> tuple[str, ...]:
    """Question forms that ask for `fact`: the topic's own, then the general ones."""
    topic = fact_topic(fact)
    own = FACT_TOPICS[topic][1] if topic != "general" else ()
    return own + GENERAL_FACT_QUESTIONS


def entity_question_pool() -> tuple[str, ...]:
    """Every turn-3 form (identity, general fact, each topic's), for counting and review."""
    topical = tuple(q for _, forms in FACT_TOPICS.values() for q in forms)
    return IDENTITY_QUESTIONS + GENERAL_FACT_QUESTIONS + topical
