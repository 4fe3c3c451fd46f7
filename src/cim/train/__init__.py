"""Training: policy builders (the tiny local VLM), shapes datasets for TRL, SFT and GRPO."""
