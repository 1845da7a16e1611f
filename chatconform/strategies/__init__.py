"""Hypothesis strategies for Chat Completions requests, valid and invalid.

    from chatconform.strategies import Profile, valid_requests, invalid_requests
    profile = Profile.of(target, budget)                 # model, claimed capabilities, token limit
    valid_requests(profile, focus="tools")               # valid by schemas/request.schema.json
    invalid_requests(profile, kind="out-of-range")       # one thing broken, see invalid.py

Modules:

  text.py          unicode of every plane (astral, combining marks, no lone surrogates),
                   empty and bounded long strings; numbers at their edges in both JSON forms
  jsonschemas.py   generated JSON Schemas for tool parameters and response formats
  messages.py      conversations: system/developer/user/assistant/tool, parts, media, tool round trips
  requests.py      Profile and the valid request; every parameter within its documented range
  invalid.py       mutations that break exactly one thing, each with the rules it falls under
  boundaries.py    one-edge-per-request boundary examples, run before the generated ones
  attribution.py   which rule a refused valid request or an accepted invalid one breaks
  cases.py         the property tests' cases as data (what each draws)
  harness.py       running a property against a target: per-example observer, shrinking,
                   seeds, the per-target example database, failure reports

Nothing is avoided: every combination of claimed features is drawn.  Answers the
engine must not misjudge are handled by the checks (a stop sequence may cut JSON or a
one-token answer with "stop"; a tool-call answer may carry `logprobs.content: null`;
a token limit may cut tool-call arguments, finishing with "length"), each with a test.
"""

import os as _os


def _share_hypothesis_storage() -> None:
    """Hypothesis keeps tables of every Unicode character's category and of the
    characters a codec can encode (built by walking all 0x110000 code points: ~1.5 s and
    ~150 MB a process each) in its storage directory, by default `.hypothesis/` in the
    working directory: a user's repository, and rebuilt in every fresh checkout.  Kept
    with the suite's other per-user caches they are built once per hypothesis version.  HYPOTHESIS_STORAGE_DIRECTORY still wins; the property tests' example
    databases have their own place (harness.py)."""
    if _os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    from hypothesis.configuration import set_hypothesis_home_dir

    from ..paths import cache_dir

    set_hypothesis_home_dir(cache_dir() / "hypothesis")


_share_hypothesis_storage()

from .attribution import ablations, acceptance_rule, features, invalid_reasons, is_valid, prose_errors
from .boundaries import invalid_boundaries, valid_boundaries
from .invalid import KINDS, MUTATIONS, Invalid, Mutation, invalid_requests, kind_rules, mutations
from .jsonschemas import json_schemas, tool_parameters
from .messages import conversations, tool_round_trip, user_message
from .requests import FOCUSES, Profile, requests_with_extras, tool_definitions, valid_requests
from .text import number_in, texts

__all__ = [
    "FOCUSES",
    "KINDS",
    "MUTATIONS",
    "Invalid",
    "Mutation",
    "Profile",
    "ablations",
    "acceptance_rule",
    "conversations",
    "features",
    "invalid_boundaries",
    "invalid_reasons",
    "invalid_requests",
    "is_valid",
    "json_schemas",
    "kind_rules",
    "mutations",
    "number_in",
    "prose_errors",
    "requests_with_extras",
    "texts",
    "tool_definitions",
    "tool_parameters",
    "tool_round_trip",
    "user_message",
    "valid_boundaries",
    "valid_requests",
]
