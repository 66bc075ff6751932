"""The CLI's sub-commands, one module each, discovered by `crisiswatch.cli`.

A command module imports the domain modules it drives (crawlers, monitor, playbooks, alerts, index,
uvicorn, tweepy, kibana) inside its `run` functions, when the command runs, not at its top:
building the parser imports every command module, and `crisiswatch --help` took 0.32 s this way
against 1.60 s with those imports at the top (median of 5 runs each on a shared 2-core machine;
"at the top" measured by importing every module the commands import before `main(["--help"])`).
This is the one place where imports inside functions are the rule; tests/test_import_layers.py
exempts this package and holds everything below it to imports at the top.
"""
