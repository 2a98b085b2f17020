"""The concept bank for turn 2 (contrastive disambiguation) and the selector of negatives.

Owns the everyday concepts (each with a category), the map from an entity's kind to a category,
the categories considered *near* each other (things likely to share a photo: a dog and its leash,
a person and a hat), and `pick_negatives`, which orders the concepts a photo's turn 2 may ask about
so that none shares the entity's category or a near one, and none is named by the entity's kind,
facts or the photo's caption. Pure and seeded; it does not phrase questions (see `pools.py`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Concept:
    name: str
    category: str
    article: str = "a"

    @property
    def phrase(self) -> str:
        return f"{self.article} {self.name}"


_BANK: dict[str, str] = {
    "animal": "elephant giraffe zebra lion tiger bear camel kangaroo penguin dolphin whale shark "
              "octopus crab lobster snail butterfly bee spider frog crocodile snake owl eagle flamingo "
              "peacock cow pig sheep goat chicken duck swan deer fox squirrel",
    "pet": "dog cat puppy kitten parrot hamster rabbit goldfish guinea_pig turtle",
    "pet_supply": "leash dog_collar dog_bed litter_box bird_cage fish_tank chew_toy pet_bowl",
    "person": "person man woman child baby police_officer firefighter chef astronaut clown",
    "clothing": "hat scarf glove raincoat sweater necktie sock boot sandal dress jacket",
    "accessory": "wristwatch necklace ring pair_of_sunglasses handbag backpack umbrella wallet "
                 "earring belt",
    "plant": "cactus sunflower rose tulip palm_tree oak_tree fern bonsai daisy orchid pine_tree "
             "lily bamboo",
    "garden": "flower_pot watering_can garden_hose rake lawn_mower wheelbarrow shovel seed_packet",
    "food": "pizza hamburger hot_dog sandwich croissant donut cupcake birthday_cake pancake "
            "sushi taco burrito pretzel bagel waffle omelette spaghetti",
    "fruit_vegetable": "banana apple orange pineapple watermelon strawberry grape lemon cherry "
                       "carrot broccoli tomato potato onion pumpkin corn_cob cucumber eggplant "
                       "mushroom avocado",
    "drink": "coffee_cup wine_glass beer_bottle milk_carton juice_box teapot soda_can "
             "water_bottle cocktail",
    "kitchenware": "frying_pan saucepan kettle toaster blender rolling_pin cutting_board whisk "
                   "ladle colander spatula corkscrew",
    "furniture": "sofa armchair bookshelf wardrobe bunk_bed dining_table rocking_chair bar_stool "
                 "chest_of_drawers hammock",
    "appliance": "washing_machine refrigerator microwave_oven dishwasher vacuum_cleaner hair_dryer "
                 "electric_fan space_heater sewing_machine air_conditioner",
    "electronics": "laptop smartphone television game_controller headphones camera printer "
                   "keyboard computer_mouse radio loudspeaker tablet",
    "vehicle": "car bicycle motorcycle bus truck tractor train airplane helicopter sailboat "
               "canoe submarine fire_engine ambulance taxi scooter hot_air_balloon rocket "
               "skateboard",
    "tool": "hammer screwdriver wrench saw drill ladder tape_measure paintbrush flashlight "
            "toolbox padlock chainsaw",
    "instrument": "guitar piano violin trumpet drum_kit saxophone harp accordion flute "
                  "xylophone cello banjo",
    "sports": "soccer_ball basketball tennis_racket baseball_bat golf_club bowling_ball "
              "surfboard pair_of_skis ice_skate boxing_glove dartboard hockey_stick frisbee",
    "toy": "teddy_bear rubber_duck kite yo_yo jigsaw_puzzle rocking_horse toy_train "
           "spinning_top dollhouse bag_of_marbles balloon",
    "office": "stapler paper_clip envelope calculator globe filing_cabinet typewriter "
              "whiteboard desk_lamp hourglass",
    "stationery": "pencil crayon notebook fountain_pen eraser ruler pair_of_scissors paint_palette "
                  "sticky_note",
    "building": "lighthouse castle windmill skyscraper church barn igloo tent bridge "
                "pyramid treehouse phone_booth",
    "landscape": "volcano waterfall glacier desert_dune iceberg canyon coral_reef cave "
                 "rainbow erupting_geyser",
    "weather_sky": "thunderstorm snowman tornado full_moon lightning_bolt hailstorm comet",
    "household": "candle alarm_clock mirror vase doormat laundry_basket picture_frame "
                 "trash_can clothes_hanger light_bulb",
    "bathroom": "bathtub toothbrush shower_head bar_of_soap toilet_paper_roll hairbrush "
                "bath_towel",
    "jewelry_luxury": "crown tiara diamond trophy gold_medal treasure_chest",
    "medical": "stethoscope syringe thermometer wheelchair pair_of_crutches bandage",
    "safety": "fire_extinguisher traffic_cone stop_sign parking_meter fire_hydrant "
              "traffic_light",
    "music_media": "vinyl_record cassette_tape jukebox microphone",
    "science": "microscope telescope test_tube magnet robot satellite dinosaur_skeleton",
    "celebration": "fireworks_display pinata wrapped_gift christmas_tree jack_o_lantern party_hat",
}

# Words whose article the first letter gets wrong.
_AN_EXCEPTIONS = {"hourglass"}
_STOPWORDS = {"of", "a", "an", "the", "and", "in", "on", "o"}

# Categories that tend to appear in the same photo as things of another category.
NEAR: dict[str, frozenset[str]] = {
    "pet": frozenset({"animal", "pet_supply", "toy", "sports", "furniture", "garden", "plant"}),
    "animal": frozenset({"pet", "pet_supply", "plant", "landscape", "garden"}),
    "person": frozenset({"clothing", "accessory", "jewelry_luxury", "furniture", "electronics",
                         "drink", "food", "household"}),
    "plant": frozenset({"garden", "fruit_vegetable", "household", "furniture", "landscape"}),
    "kitchenware": frozenset({"drink", "food", "fruit_vegetable", "appliance", "household"}),
    "drink": frozenset({"kitchenware", "food", "fruit_vegetable", "household"}),
    "food": frozenset({"drink", "kitchenware", "fruit_vegetable", "celebration"}),
    "vehicle": frozenset({"safety", "building", "tool", "landscape"}),
    "toy": frozenset({"pet_supply", "celebration", "sports", "furniture"}),
    "instrument": frozenset({"music_media", "furniture", "electronics"}),
    "electronics": frozenset({"office", "stationery", "furniture", "music_media", "appliance"}),
    "clothing": frozenset({"person", "accessory", "jewelry_luxury"}),
    "accessory": frozenset({"person", "clothing", "jewelry_luxury"}),
    "furniture": frozenset({"household", "appliance", "electronics"}),
}

# Words users type for a kind, mapped to the bank's category for it.
KIND_CATEGORIES: dict[str, str] = {
    **{k: "pet" for k in (
        "dog cat puppy kitten pet parrot budgie hamster rabbit bunny goldfish fish guinea pig "
        "turtle tortoise ferret gerbil mouse rat lizard gecko iguana chinchilla hedgehog pony "
        "horse canary cockatoo retriever labrador poodle terrier beagle bulldog spaniel "
        "shepherd husky corgi dachshund collie pug chihuahua greyhound schnauzer tabby "
        "siamese".split())},
    **{k: "animal" for k in "bird cow goat sheep pig chicken duck alpaca llama donkey".split()},
    **{k: "person" for k in (
        "person man woman boy girl child kid baby toddler teen teenager friend mother father "
        "mom dad mum grandma grandpa grandmother grandfather sister brother wife husband "
        "partner son daughter aunt uncle cousin colleague me myself human people".split())},
    **{k: "plant" for k in (
        "plant tree flower cactus succulent fern orchid bonsai houseplant herb shrub bush "
        "monstera palm rose tulip".split())},
    **{k: "kitchenware" for k in "mug cup teacup bowl plate pot pan kettle jar".split()},
    **{k: "vehicle" for k in (
        "car bike bicycle motorcycle motorbike truck van boat scooter bus train "
        "camper".split())},
    **{k: "toy" for k in "toy doll plush teddy figurine lego".split()},
    **{k: "instrument" for k in "guitar piano violin ukulele drum instrument".split()},
    **{k: "electronics" for k in "laptop phone computer camera console robot".split()},
    **{k: "accessory" for k in "bag backpack watch glasses handbag wallet".split()},
    **{k: "clothing" for k in "hat shirt jacket shoe shoes sneaker dress".split()},
    **{k: "furniture" for k in "chair sofa couch table desk lamp".split()},
    **{k: "building" for k in "house home building cabin church tower".split()},
}


def _make_bank() -> tuple[Concept, ...]:
    out = []
    for category, names in _BANK.items():
        for raw in names.split():
            name = raw.replace("_", " ")
            out.append(Concept(name, category, _article(raw, name)))
    return tuple(out)


def _article(raw: str, name: str) -> str:
    return "an" if name[0] in "aeiou" or raw in _AN_EXCEPTIONS else "a"


CONCEPTS: tuple[Concept, ...] = _make_bank()
CATEGORIES: tuple[str, ...] = tuple(_BANK)


def kind_category(kind: str, bank: tuple[Concept, ...] = CONCEPTS) -> str | None:
    """The bank category of an entity kind ('dog' -> 'pet'), or None when unknown."""
    words = _words(kind)
    for word in [" ".join(words)] + words[::-1]:  # whole phrase, then the head noun first
        singular = word[:-1] if word.endswith("s") and word[:-1] in KIND_CATEGORIES else word
        if singular in KIND_CATEGORIES:
            return KIND_CATEGORIES[singular]
    by_name = {c.name: c.category for c in bank}
    return by_name.get(" ".join(words))


def excluded_categories(category: str | None) -> frozenset[str]:
    """The entity's own category and every category near it (in either direction)."""
    if category is None:
        return frozenset()
    near = set(NEAR.get(category, ())) | {c for c, ns in NEAR.items() if category in ns}
    return frozenset(near | {category})


def pick_negatives(
    kind: str,
    avoid_text: str,
    rng: random.Random,
    *,
    count: int,
    bank: tuple[Concept, ...] = CONCEPTS,
) -> list[Concept]:
    """Up to `count` distinct concepts far from `kind`, none named in `avoid_text`.

    `avoid_text` carries what the photo may well show: the kind, the facts, the caption.
    """
    banned = excluded_categories(kind_category(kind, bank))
    avoid = set(_words(avoid_text)) | set(_words(kind))
    pool = [c for c in bank if c.category not in banned and not _mentioned(c, avoid)]
    return rng.sample(pool, min(count, len(pool)))


def _mentioned(concept: Concept, avoid: set[str]) -> bool:
    words = [w for w in _words(concept.name) if w not in _STOPWORDS]
    stems = {w[:-1] if w.endswith("s") else w for w in avoid}
    return any(w in avoid or w in stems for w in words)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())
