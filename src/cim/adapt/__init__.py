"""Gallery-adapted text encoders: automatic hard negatives from a gallery's own captions, a sentence-transformers
fine-tune on them, and held-out validation in phrasings training never saw."""
