import sys

if sys.argv[1:2] == ["programs"]:  # python -m benchmarks programs ...: real programs learners port (programs.py)
    from .programs import main as programs_main

    programs_main(sys.argv[2:])
else:
    from .run import main

    main()
