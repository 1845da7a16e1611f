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
  harness.py       running a property against a target: per-example observer, shrinking,
                   seeds, the per-target example database, failure reports (JSON + curl + seed)

What the generator avoids, and why (requests.py flags; each would be a false alarm on
a conformant server today, and each goes once the engine change named here lands):

  AVOID_STOP_WITH_JSON_MODES       a stop sequence legitimately cuts JSON with finish "stop";
                                   checks/invariants.py json_modes() must skip requests with `stop`
  AVOID_STOP_WITH_LIMIT_ONE        max_tokens=1 plus a stop inside that token finishes "stop";
                                   token_limit()'s PARAM-002 branch must skip requests with `stop`
  AVOID_LOGPROBS_WITH_TOOLS        a tool-call answer has no content tokens: logprobs_shape()
                                   must accept `logprobs.content: null` there (PARAM-016 allows it)
  AVOID_LIMIT_ONE_WITH_JSON_MODES  the reference finishes a one-token answer ("{}") under
                                   max_tokens=1 with "stop": reference/model.py apply_limits()
                                   must cut when limit <= len(tokens) (no room for end-of-sequence)
  TOOL_CALL_MIN_LIMIT (256)        the reference does not apply the token limit to tool calls
                                   (PARAM-001): reference/model.py generate() must cut them
"""
from .attribution import acceptance_rule, features, invalid_reasons, is_valid, prose_errors
from .boundaries import invalid_boundaries, valid_boundaries
from .invalid import KINDS, MUTATIONS, Invalid, Mutation, invalid_requests, kind_rules, mutations
from .jsonschemas import json_schemas, tool_parameters
from .messages import conversations, tool_round_trip, user_message
from .requests import FOCUSES, Profile, requests_with_extras, tool_definitions, valid_requests
from .text import number_in, texts

__all__ = [
    "FOCUSES", "KINDS", "MUTATIONS", "Invalid", "Mutation", "Profile", "acceptance_rule", "conversations",
    "features", "invalid_boundaries", "invalid_reasons", "invalid_requests", "is_valid", "json_schemas",
    "kind_rules", "mutations", "number_in", "prose_errors", "requests_with_extras", "texts", "tool_definitions",
    "tool_parameters", "tool_round_trip", "user_message", "valid_boundaries", "valid_requests",
]
