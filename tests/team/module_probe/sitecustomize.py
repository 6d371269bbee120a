"""Loaded at start-up by an app process whose PYTHONPATH names this folder (tests/team only).

When STUDIO_TEST_MODULES_FILE is set, a daemon thread writes which heavy image modules the
process has imported (torch, diffusers, transformers), with its resident memory, to that file
twice a second: the team test reads it to prove that an app using image servers loads no image
model. Nothing happens without the variable.
"""

import os

_TARGET = os.environ.get("STUDIO_TEST_MODULES_FILE")

if _TARGET:
    import json
    import sys
    import threading
    import time

    def _rss_mb() -> float:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return -1.0

    def _report() -> None:
        while True:
            heavy = sorted(m for m in ("torch", "diffusers", "transformers") if m in sys.modules)
            temporary = f"{_TARGET}.{os.getpid()}.tmp"
            with open(temporary, "w") as out:
                json.dump({"pid": os.getpid(), "heavy": heavy, "rss_mb": _rss_mb(), "modules": len(sys.modules)}, out)
            os.replace(temporary, _TARGET)
            time.sleep(0.5)

    threading.Thread(target=_report, name="module-probe", daemon=True).start()
