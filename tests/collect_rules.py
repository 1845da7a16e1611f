"""A pytest plugin for the self-tests: write every collected suite test's rule IDs to a file.

Collection, not a source scan, so rules set through parametrize marks count too.
"""

import json
import os


def pytest_collection_finish(session):
    out = os.environ.get("CHATCONFORM_COLLECT_RULES")
    if not out:
        return
    rows = []
    for item in session.items:
        ids = []
        for m in item.iter_markers("rules"):
            ids.extend(m.args)
        rows.append({"module": item.path.name, "name": item.originalname, "nodeid": item.nodeid, "rules": ids})
    with open(out, "w") as f:
        json.dump(rows, f)
