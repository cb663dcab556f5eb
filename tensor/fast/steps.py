"""The tape a recording makes and the steps a replay runs, described for the modules that read them: the
kinds of a replay's steps, and which slots (the recorded arrays' places) a tape entry reads and writes.
tensor/fast/replay.py builds and runs the steps; tensor/fast/graphs.py cuts them into CUDA graphs."""

OP, CALL, HOST, BACKWARD = range(4)  # a replay step's kind: an op's forward, a recorded call, a host call, a backward


def slots_read(entry):
    """The slots a tape entry reads (a host call reads through its tensors, not through slots)."""
    kind = entry[0]
    if kind == "op":
        return entry[2]
    if kind == "call":
        args, kwargs = entry[2]
        return [v for k, v in (*args, *kwargs.values()) if k in ("slot", "array")]
    if kind == "backward":
        return [entry[1]] + ([entry[2]] if entry[2] is not None else [])
    return []


def slot_written(entry):
    """The slot a tape entry writes its result to (None for a backward, or a host call with no tensor result)."""
    kind = entry[0]
    if kind == "op":
        return entry[4]
    if kind in ("call", "host"):
        return entry[-1]
    return None
