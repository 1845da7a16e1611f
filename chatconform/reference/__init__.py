"""The embedded reference server: a conformant fake Chat Completions endpoint plus a
catalogue of single-deviation mutants (defects) for the suite's kill matrix.

    from chatconform.reference import start
    with start(api_key="sk-test") as srv:
        ...  # srv.base_url == "http://127.0.0.1:PORT/v1"

    start(dialect="kawai")   # behave as a seed vendor documents (dialects.py)
    start(variants=["sse-crlf"])   # a conformant variant the suite must pass (variants.py)
"""

from .defects import AREAS, DEFECTS, Defect
from .dialects import DIALECTS
from .model import CONTEXT_WINDOW
from .server import DEFAULT_MODELS, RunningServer, start
from .variants import VARIANTS, Variant

__all__ = [
    "AREAS",
    "CONTEXT_WINDOW",
    "DEFAULT_MODELS",
    "DEFECTS",
    "DIALECTS",
    "VARIANTS",
    "Defect",
    "RunningServer",
    "Variant",
    "start",
]
