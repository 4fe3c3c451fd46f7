"""The embedded synthetic shapes world: seeded scenes, renderer, caption grammar, fact reader, metrics.

Scenes hold 2–5 objects (unique shapes) on a 3×3 grid; every fact of a scene is known, so captions
can be written at chosen levels of completeness and any caption can be read back into facts.
"""

from cim.shapes.export import export_split
from cim.shapes.facts import FACT_KINDS, Facts
from cim.shapes.grammar import (
    LEVELS,
    caption_for_level,
    corrupt_facts,
    level_facts,
    subsample_facts,
    swap_attributes,
    swap_relations,
    write_caption,
)
from cim.shapes.metrics import (
    RelationQuestion,
    answer_question,
    caption_scores,
    fact_scores,
    relation_qa,
    relation_qa_accuracy,
    relation_qa_paper,
    relation_questions,
)
from cim.shapes.reader import Reading, SentenceReading, read_caption, read_facts
from cim.shapes.render import render_scene
from cim.shapes.scene import (
    SPLITS,
    Scene,
    ShapeObject,
    generate_scene,
    scene_facts,
    scene_from_id,
    scene_id,
    split_scenes,
    stable_seed,
)
from cim.shapes.vocab import (
    BACKGROUND,
    COLOURS,
    RELATIONS,
    SHAPES,
    SIZES,
    canonical_relation,
)

__all__ = [
    "Reading",
    "SentenceReading",
    "read_caption",
    "caption_scores",
    "BACKGROUND",
    "COLOURS",
    "FACT_KINDS",
    "LEVELS",
    "RELATIONS",
    "SHAPES",
    "SIZES",
    "SPLITS",
    "Facts",
    "RelationQuestion",
    "Scene",
    "ShapeObject",
    "answer_question",
    "canonical_relation",
    "caption_for_level",
    "corrupt_facts",
    "export_split",
    "fact_scores",
    "generate_scene",
    "level_facts",
    "read_facts",
    "relation_qa",
    "relation_qa_accuracy",
    "relation_qa_paper",
    "relation_questions",
    "render_scene",
    "scene_facts",
    "scene_from_id",
    "scene_id",
    "split_scenes",
    "stable_seed",
    "subsample_facts",
    "swap_attributes",
    "swap_relations",
    "write_caption",
]
