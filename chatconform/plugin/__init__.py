"""chatconform's pytest plugin, loaded through its `pytest11` entry point.

A suite test is an ordinary pytest function marked `@pytest.mark.rules(...)` that
provokes the target through the `client` fixture (suites/conftest.py); the observer's
registered checks judge every exchange, and the plugin turns what they found into the
test's outcome, the run's results and its verdict.  One module per concern:

  options.py     command-line options, whether a run asks for the suites (else the
                 plugin is inert), the target's set-up
  run.py         the Run (one per process, in config.stash) and the per-test stash keys
  items.py       what a collected test cites and needs
  collection.py  cited rules exist, the smoke budget's selection, --plan
  judging.py     capability and budget gates before a test, its outcome after it
  xdist.py       pytest-xdist wiring (work stealing, the shared spend ledger)
  progress.py    a progress line while a run is slow (tests, requests, rate, time left)
  summary.py     results.json, the verdict in the terminal, the exit status
"""

pytest_plugins = ["chatconform.plugin.options", "chatconform.plugin.xdist"]
