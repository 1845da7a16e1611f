"""The command line as a new user meets it: mistakes are one message, pipes close quietly."""

import os
import subprocess
import sys
import textwrap

CLI = [sys.executable, "-m", "chatconform"]


def run(args, cwd, **kw):
    return subprocess.run(CLI + args, cwd=cwd, capture_output=True, text=True, timeout=120, **kw)


def test_literal_key_in_targets_file_is_named_never_echoed(tmp_path):
    secret = "sk-LITERAL-" + "7" * 24
    (tmp_path / "targets.yaml").write_text(
        textwrap.dedent(f"""\
        targets:
          mine:
            base_url: http://127.0.0.1:9/v1
            model: m
            api_key: {secret}
        """)
    )
    p = run(["run", "--target", "mine"], tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode == 4, out
    assert secret not in out and "sk-LITERAL" not in out
    assert "targets.mine.api_key" in out and "${" in out  # the field and the fix


def test_results_into_a_missing_directory_fails_before_the_run(tmp_path):
    p = run(["run", "--results", str(tmp_path / "nope" / "r.json")], tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode == 4, out
    assert "does not exist" in out and "Traceback" not in out
    assert "passed" not in out  # nothing ran


def test_closed_pipe_is_not_a_traceback(tmp_path):
    # `chatconform defects | head`: the reader is gone before the writer is done.  A pipe
    # whose read end is closed from the start makes that deterministic.
    for cmd in (["defects"], ["rules"]):
        r, w = os.pipe()
        os.close(r)
        try:
            p = subprocess.run(CLI + cmd, cwd=tmp_path, stdout=w, stderr=subprocess.PIPE, text=True, timeout=60)
        finally:
            os.close(w)
        assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr
        assert p.returncode == 0
