"""`python -m benchmarks [reading-path | ladder | programs] ...`: the suites (benchmarks/run.py), or one of the
programs named by the first argument (programs: real programs learners port, benchmarks/programs.py)."""

import sys

PROGRAMS = {"reading-path": "benchmarks.reading_path", "ladder": "benchmarks.ladder", "programs": "benchmarks.programs"}

if sys.argv[1:2] and sys.argv[1] in PROGRAMS:
    import importlib

    importlib.import_module(PROGRAMS[sys.argv[1]]).main(sys.argv[2:])
else:
    from .run import main

    main()
