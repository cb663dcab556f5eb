"""tinygrad_gpt: the course's GPT, built step by step on nn/ and tensor/."""
