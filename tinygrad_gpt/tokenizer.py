"""CharTokenizer: one token per distinct character of the training text."""


class CharTokenizer:
    def __init__(self, chars):
        self.chars = sorted(set(chars))
        if not self.chars:
            raise ValueError("CharTokenizer needs at least one character")
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text):
        return cls(text)

    @property
    def vocab_size(self):
        return len(self.chars)

    def encode(self, text):
        unknown = sorted({c for c in text if c not in self.stoi})
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:10])
            raise ValueError(f"text contains {len(unknown)} character(s) not in the vocabulary: {shown}")
        return [self.stoi[c] for c in text]

    def decode(self, tokens):
        return "".join(self.chars[int(t)] for t in tokens)

    def state_dict(self):
        return {"chars": "".join(self.chars)}

    @classmethod
    def from_state_dict(cls, state):
        return cls(state["chars"])
