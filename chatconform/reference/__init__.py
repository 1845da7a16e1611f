"""The embedded reference server: a conformant fake Chat Completions endpoint plus a
catalogue of single-deviation mutants (defects) for the suite's kill matrix.

    from chatconform.reference import start
    with start(api_key="sk-test") as srv:
        ...  # srv.base_url == "http://127.0.0.1:PORT/v1"
"""
from .defects import AREAS, DEFECTS, Defect
from .model import CONTEXT_WINDOW
from .server import DEFAULT_MODELS, RunningServer, start

__all__ = ["AREAS", "CONTEXT_WINDOW", "DEFAULT_MODELS", "DEFECTS", "Defect", "RunningServer", "start"]
