"""Command-line options, whether a run asks for the suites, and the target's set-up.

pytest loads this plugin in every environment chatconform is installed in, so it must
change nothing in a project that does not ask for it:

* every option exists under a `--chatconform-` name; the short name (`--base-url`,
  `--model`, ...) is added only when no other plugin or conftest has taken it
  (pytest-base-url also defines `--base-url`: its value is read then);
* the suites' fixtures live in `suites/conftest.py`, visible to the suites only;
* nothing else happens unless the run is *active*: a chatconform option was given, or
  the command line selects the packaged suites (`pytest` in this repository,
  `pytest --pyargs chatconform.suites`, `chatconform run`).  Only then is the target
  resolved (and the embedded reference started when a test first needs it), the
  per-concern plugin objects registered, and the verdict printed.
"""

from __future__ import annotations

import pathlib

import pytest

from ..budget import BUDGETS
from ..paths import SUITES_DIR
from ..targets import CAPABILITIES, Target, adhoc, builtin, resolve
from ..violations import UsageError
from .run import RUN, Run, is_worker

GROUP = "chatconform"
# (short name, argparse keywords).  The dest is always chatconform_<name>.
OPTIONS: tuple[tuple[str, dict], ...] = (
    ("target", dict(help="run against this named target from the targets file (default: the embedded reference)")),
    ("targets", dict(help="the targets file (default: targets.yaml in the current directory, if any)")),
    ("base-url", dict(help="ad hoc target: its base URL, e.g. http://127.0.0.1:8000/v1")),
    ("model", dict(help="ad hoc target: the model id to request")),
    ("api-key-env", dict(help="ad hoc target: the environment variable holding the API key (never the key itself)")),
    ("capabilities", dict(help=f"ad hoc target: 'all' or a comma list of {','.join(CAPABILITIES)}")),
    (
        "lacks",
        dict(
            help="ad hoc target: a comma list of capabilities it declares it does NOT have (not claiming is not lacking)"
        ),
    ),
    (
        "token-limit-field",
        dict(
            default=None,
            choices=("max_completion_tokens", "max_tokens"),
            help="ad hoc target: the token-limit field the probes send (default max_completion_tokens)",
        ),
    ),
    (
        "allow-remote-images",
        dict(
            action="store_true",
            default=False,
            help="ad hoc target: let VISION-001/004 send http(s) image URLs (the server may fetch them)",
        ),
    ),
    (
        "level",
        dict(
            default="should",
            choices=("must", "should"),
            help="should (default): MUST and SHOULD rules fail the run; must: SHOULD violations are warnings",
        ),
    ),
    (
        "timeout",
        dict(
            type=float,
            default=None,
            metavar="SECONDS",
            help="read timeout: a request with no byte for this long ends (default 30 for --base-url); "
            "a whole answer may take twice as long",
        ),
    ),
    (
        "connect-timeout",
        dict(type=float, default=None, metavar="SECONDS", help="seconds to wait for a connection (default 5)"),
    ),
    (
        "ca-bundle",
        dict(
            default=None,
            metavar="FILE",
            help="PEM file of the CA certificates to trust for an https target (default: SSL_CERT_FILE, else certifi)",
        ),
    ),
    (
        "max-time",
        dict(
            type=float,
            default=None,
            metavar="SECONDS",
            help="the whole run's time limit: then it ends with the verdict so far, the tests not run not judged "
            "(default 1800 for --base-url; targets.yaml max_time)",
        ),
    ),
    (
        "no-preflight",
        dict(
            action="store_true",
            default=False,
            help="skip the check, before any test, that the target can be judged at all",
        ),
    ),
    ("results", dict(help="write results.json (data of every rule and test) to this path")),
    (
        "rule",
        dict(
            action="append",
            default=None,
            metavar="RULE-ID",
            help="run only the tests that cite this rule (repeatable), e.g. --rule STREAM-016",
        ),
    ),
    (
        "name",
        dict(
            default=None,
            metavar="LABEL",
            help="the run's name in results.json and in `chatconform compare` (default: the target's)",
        ),
    ),
    (
        "plan",
        dict(
            action="store_true",
            default=False,
            help="dry run: list the tests and estimate requests and completion tokens; send nothing",
        ),
    ),
    (
        "concurrency",
        dict(
            type=int,
            default=None,
            help="requests in flight at once: the tests run in that many pytest-xdist workers "
            "(default: CHATCONFORM_CONCURRENCY, else the target's rate_limit.concurrency, else 8; "
            "the embedded reference: the CPU count, at most 4)",
        ),
    ),
    (
        "budget",
        dict(
            default="standard",
            choices=tuple(BUDGETS),
            help="smoke: a few requests in every area; standard (default): every test; thorough: more property examples",
        ),
    ),
    (
        "examples",
        dict(
            type=int,
            default=None,
            metavar="N",
            help="generated examples per property test (default: the budget's, standard 25, thorough 200); "
            "boundary examples are sent whatever N is",
        ),
    ),
)
# The options that choose or describe the target: giving one makes a run active, and the
# property tests' replay hint repeats them.
TARGET_OPTIONS = (
    "target",
    "targets",
    "base-url",
    "model",
    "api-key-env",
    "capabilities",
    "lacks",
    "budget",
    "examples",
    "level",
    "timeout",
    "connect-timeout",
    "ca-bundle",
    "token-limit-field",
)
# Other plugins that define one of our short names, and the dest they store it in.
FOREIGN_DESTS = {"base-url": "base_url"}


def dest(name: str) -> str:
    return "chatconform_" + name.replace("-", "_")


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup(GROUP, "chatconform: which target, how strict")
    for name, kw in OPTIONS:
        g.addoption(f"--chatconform-{name}", dest=dest(name), **kw)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # After the root conftests have added their options: short names nobody has taken.
    result = yield
    taken = {n for opt in _all_options(parser) for n in opt.names()}
    g = parser.getgroup(GROUP)
    for name, kw in OPTIONS:
        if f"--{name}" not in taken:
            g.addoption(
                f"--{name}",
                dest=dest(name),
                **{k: v for k, v in kw.items() if k != "help"},
                help=f"(--chatconform-{name}) " + kw["help"],
            )
    return result


def _all_options(parser: pytest.Parser):
    for group in getattr(parser, "_groups", ()):
        yield from group.options
    anonymous = getattr(parser, "_anonymous", None)
    if anonymous is not None:
        yield from anonymous.options


def opt(config: pytest.Config, name: str):
    """An option's value, by its short name (falling back to another plugin's dest for it)."""
    value = config.getoption(dest(name), None)
    if value in (None, False) and name in FOREIGN_DESTS:
        value = config.getoption(FOREIGN_DESTS[name], None) or value
    return value


def given(config: pytest.Config, name: str) -> bool:
    value = opt(config, name)
    default = dict(OPTIONS)[name].get("default")
    return value is not None and value != default


# -- activation -----------------------------------------------------------------------------
def asks_for_suites(config: pytest.Config) -> bool:
    """Whether this run is a chatconform run (see the module docstring)."""
    if any(given(config, name) for name in TARGET_OPTIONS + ("results", "plan")):
        return True
    invocation = pathlib.Path(str(config.invocation_params.dir))
    for arg in config.args or ():
        spec = str(arg).split("::", 1)[0]
        if config.option.pyargs and (spec == "chatconform.suites" or spec.startswith("chatconform.suites.")):
            return True
        path = (invocation / spec).resolve()
        if path == SUITES_DIR or SUITES_DIR in path.parents or path in SUITES_DIR.parents:
            return True
    return False


# -- the target -------------------------------------------------------------------------------
def resolve_target(config: pytest.Config) -> Target:
    if opt(config, "base-url"):
        if opt(config, "target"):
            raise UsageError("give either --target NAME or --base-url URL, not both")
        t = adhoc(
            opt(config, "base-url"),
            opt(config, "model"),
            opt(config, "api-key-env"),
            opt(config, "capabilities"),
            opt(config, "lacks"),
        )
        t.allow_remote_images = bool(opt(config, "allow-remote-images"))
        t.token_field = opt(config, "token-limit-field") or t.token_field
        return t
    for flag in ("model", "api-key-env", "capabilities", "lacks", "allow-remote-images", "token-limit-field"):
        if opt(config, flag):
            raise UsageError(f"--{flag} goes with --base-url (for a named target, edit its entry in the targets file)")
    name = opt(config, "target") or "reference"
    path = opt(config, "targets")
    if path is None:
        default = pathlib.Path(str(config.invocation_params.dir)) / "targets.yaml"
        if not default.is_file():
            if name == "reference":
                return builtin()
            raise UsageError(
                f"--target {name}: no targets file given (--targets FILE) and no targets.yaml in the current directory"
            )
        path = default
    return resolve(name, path)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from . import collection, guard, judging, progress, summary

    if not asks_for_suites(config):
        return
    _register_markers(config)
    try:
        target = resolve_target(config)
        if not is_worker(config):
            check_writable(opt(config, "results"), "--results")
        if opt(config, "examples") is not None and opt(config, "examples") < 1:
            raise UsageError(f"--examples {opt(config, 'examples')}: give at least 1 (--budget smoke sends no example)")
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    if opt(config, "name"):
        target.name = opt(config, "name")
    run = config.stash[RUN] = Run(config, target)
    pm = config.pluginmanager
    pm.register(collection.Collection(run), "chatconform-collection")
    pm.register(judging.Judging(run), "chatconform-judging")
    pm.register(guard.Guard(run), "chatconform-guard")
    if not is_worker(config):
        pm.register(summary.Summary(run), "chatconform-summary")
        pm.register(progress.Progress(run), "chatconform-progress")


def check_writable(path: str | None, flag: str) -> None:
    """Before the run, not after it: an output that cannot be written is a usage error."""
    if not path:
        return
    p = pathlib.Path(path)
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a directory; give a file name, e.g. {p / 'results.json'}")
    parent = p.parent if str(p.parent) else pathlib.Path(".")
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: the directory {parent} does not exist; create it first")
    import os

    if not os.access(parent, os.W_OK):
        raise UsageError(f"{flag} {path}: the directory {parent} is not writable")


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is not None:
        run.stop()


MARKERS = (
    "rules(*ids): the catalogue rule IDs a chatconform suite test enforces",
    "needs(*capabilities): capabilities the target must claim (beyond those of the rules)",
    "smoke: part of chatconform's smoke budget (a quick signal in a few requests)",
    "property: a chatconform property-based (hypothesis) test",
    "area(name): the rule area a chatconform suite module covers",
)


def _register_markers(config: pytest.Config) -> None:
    # Registered here, not in an ini file, so that an installed suite knows them too.
    for line in MARKERS:
        config.addinivalue_line("markers", line)
