"""Repository-level pytest configuration.

The engine is the pytest plugin `chatconform.plugin`, which pytest loads through its
entry point wherever chatconform is installed (pyproject.toml); nothing else is needed
here.  Folders that hold scripts, not tests, are kept out of a bare `pytest .`.
"""

collect_ignore = ["benchmarks", "scripts", "fixtures", "integrations"]
