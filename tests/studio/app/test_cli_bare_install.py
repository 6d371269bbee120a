"""The console script starts on a bare install (only pyproject's core dependencies).

CI checks this with a fresh venv; this test catches it in the fast suite: a child Python is
started with every optional extra made unimportable, and `--help` of the CLI and of each
subcommand must still work. A taste command then names the extra to install.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

# every top-level module of pyproject's optional extras (and their heavy dependencies)
OPTIONAL = [
    "numpy", "torch", "matplotlib", "pandas", "seaborn", "pyseccomp", "diffusers", "transformers",
    "accelerate", "xllamacpp", "ddgs", "openai", "gradio", "weasyprint", "docx", "datasets", "yaml",
    "psycopg", "argon2", "safetensors", "sentence_transformers",
]  # fmt: skip

CHILD = textwrap.dedent(
    """
    import sys
    from importlib.abc import MetaPathFinder

    BLOCKED = set(sys.argv[1].split(","))

    class Bare(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Bare())
    from studio.app.cli import main

    sys.exit(main(sys.argv[2:]))
    """
)


def run_bare(*argv: str, tmp_path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "STUDIO_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-c", CHILD, ",".join(OPTIONAL), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_help_of_every_subcommand_starts_without_optional_extras(tmp_path) -> None:
    top = run_bare("--help", tmp_path=tmp_path)
    assert top.returncode == 0, top.stderr
    assert "taste" in top.stdout
    for sub in ("write", "render", "tools", "prefs", "taste", "users"):
        done = run_bare(sub, "--help", tmp_path=tmp_path)
        assert done.returncode == 0, f"{sub}: {done.stderr}"


def test_taste_command_without_its_extra_names_what_to_install(tmp_path) -> None:
    done = run_bare("taste", "status", tmp_path=tmp_path)
    assert done.returncode == 2
    assert "numpy" in done.stderr and "llmi-studio[taste]" in done.stderr
    assert "Traceback" not in done.stderr
