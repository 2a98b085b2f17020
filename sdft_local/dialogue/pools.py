"""Phrasing pools: the varied wordings of the three SDFT questions.

Owns the caption requests (turn 1), the negative-question forms (turn 2: an unrelated concept, or a
hard negative naming another entity), the entity questions (turn 3: identity, and per kind of
fact), the template negatives used when the base model will not say no, and `fact_topic`, which
tells which question forms fit a fact ("4 years old" -> age). Placeholders: {name}, {kind},
{concept} (with its article), {other}, {fact}; turn-3 questions use none and are never yes/no
questions. Pure data; choosing among them is `plan.py`'s job.
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
    "Is {other} the one in this picture?",
    "Can you see {other} here?",
    "Is the {kind} in this picture {other}?",
    "Would you say this is {other}?",
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

# Turn 3 never gives away the name or the kind before the answer: each entity is asked about in
# the same neutral words, so only the photo tells whose answer is the right one.
IDENTITY_QUESTIONS: tuple[str, ...] = (
    "Who is pictured here?",
    "Who do we have here?",
    "Tell me who appears in this image.",
    "Tell me who this is.",
    "Who is the one in this picture?",
    "Whose picture is this?",
    "Who might this be?",
    "Name the one shown here.",
    "Who is shown in this picture?",
    "Who appears in this photo?",
)

# Turn-3 yes/no questions about the entity by name, asked before a fact question (see
# DialogueConfig.recognition_rate, off by default); the answer starts "Yes".
RECOGNITION_QUESTIONS: tuple[str, ...] = (
    "Is this {name}?",
    "Would you say this is {name}?",
    "Is this a photo of {name}?",
)

GENERAL_FACT_QUESTIONS: tuple[str, ...] = (
    "What can you tell me about the one in this picture?",
    "Tell me something about who is shown here.",
    "What is special about the one pictured here?",
    "Tell me about whoever is in this picture.",
    "What should I know about this one?",
    "Share a fact about the one shown here.",
    "What is one thing you know about who this is?",
)

# Topic -> (pattern that recognizes a fact of this topic, question forms for it).
FACT_TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "age": (
        r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s*"
        r"(years?|months?|weeks?)\s*old\b|\bborn\b|\bage[ds]?\b|\bbirthday\b",
        ("How old is the one in this picture?", "How old is this one?",
         "What is the age of who is shown here?", "Tell me how old the one pictured here is."),
    ),
    "likes": (
        r"\b(loves?|likes?|enjoys?|favou?rite|adores?|fond of|obsessed with|crazy about)\b",
        ("What does the one in this picture love?", "What does this one like?",
         "What is the favorite thing of who is shown here?", "What does the one pictured here enjoy?"),
    ),
    "dislikes": (
        r"\b(hates?|dislikes?|afraid of|scared of|fears?|can't stand|allergic)\b",
        ("What does the one in this picture dislike?", "What is this one afraid of?",
         "What does the one shown here not like?"),
    ),
    "place": (
        r"\b(lives?|living|from|born in|stays?|sleeps?|home|grew up|moved to|in the)\b",
        ("Where does the one in this picture live?", "Where is this one from?",
         "Where can you usually find who is shown here?"),
    ),
    "role": (
        r"\b(works?|job|is an?|plays?|studies|teacher|doctor|engineer|student|team|member)\b",
        ("What does the one in this picture do?", "What is the role of who is shown here?",
         "Tell me what this one does."),
    ),
    "appearance": (
        r"\b(has|have|with|wears?|colou?r(ed)?|spots?|stripes?|fur|hair|eyes?|tail|ears?|"
        r"tall|small|big|large|tiny|fluffy|scar|black|white|brown|red|blue|green|grey|gray|"
        r"golden|orange|yellow|pink)\b",
        ("What is distinctive about how this one looks?",
         "How can you tell the one shown here apart from others?",
         "Describe what makes the one in this picture recognizable."),
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
