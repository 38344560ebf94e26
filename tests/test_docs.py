"""The manual and the front page: MkDocs builds the docs strictly, bench.report's tables are the recorded
results, and README.md stays a short Space card with valid Spaces front matter."""

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from bench import report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_mkdocs_builds_strictly(tmp_path):
    """`mkdocs build --strict`: no broken link, no missing page or API reference, every nav entry a page."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "reference" / "core" / "index.html").exists()  # mkdocstrings rendered the API


def test_report_check_passes_on_the_repository():
    """Every table between report markers is what `python -m bench.report` writes from the results."""
    lines = []

    class Out:
        def write(self, text):
            lines.append(text)

    assert report.run(ROOT, check=True, out=Out()) == 0, "".join(lines)


def _copy(tmp_path):
    """README.md, docs/, bench/results/ and the model folders' metrics.json: what the tables read and go into."""
    shutil.copy(os.path.join(ROOT, "README.md"), tmp_path / "README.md")
    shutil.copytree(os.path.join(ROOT, "docs"), tmp_path / "docs")
    shutil.copytree(os.path.join(ROOT, "bench", "results"), tmp_path / "bench" / "results")
    for _, folder in report.MODEL_FOLDERS:
        os.makedirs(tmp_path / folder)
        for name in ("metrics.json", "decoding.json"):
            if os.path.exists(os.path.join(ROOT, folder, name)):
                shutil.copy(os.path.join(ROOT, folder, name), tmp_path / folder / name)
    return tmp_path


def test_report_check_fails_on_a_figure_typed_by_hand_and_the_report_rewrites_it(tmp_path, capsys):
    root = _copy(tmp_path)
    page = root / "docs" / "translate.md"
    text = page.read_text(encoding="utf-8")
    table = text.split("<!-- report:translate_bundled -->")[1].split("<!-- /report -->")[0]
    bleu = f"**{report.result('translate')['bundled']['translate-rnn']['bleu']:.1f}**"
    assert bleu in table
    page.write_text(text.replace(table, table.replace(bleu, "**99.9**")), encoding="utf-8")
    assert report.main(["--check", "--root", str(root)]) == 1
    assert "docs/translate.md" in capsys.readouterr().out
    assert report.main(["--root", str(root), "docs/translate.md"]) == 0  # writes the recorded figure back
    assert page.read_text(encoding="utf-8") == text


def test_report_check_fails_when_a_result_changes(tmp_path, capsys):
    """A re-measured result makes the committed table stale until the report is run again."""
    import json

    root = _copy(tmp_path)
    path = root / "bench" / "results" / "translate.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    results["bundled"]["translate-transformer"]["bleu"] = 31.4
    path.write_text(json.dumps(results), encoding="utf-8")
    assert report.main(["--check", "--root", str(root)]) == 1
    assert report.main(["--root", str(root)]) == 0
    assert "**31.4**" in (root / "docs" / "translate.md").read_text(encoding="utf-8")
    assert report.main(["--check", "--root", str(root)]) == 0


def test_report_names_an_unknown_table_and_a_missing_result(tmp_path, capsys):
    root = _copy(tmp_path)
    (root / "docs" / "extra.md").write_text("<!-- report:no_such_table -->\n<!-- /report -->\n", encoding="utf-8")
    (root / "bench" / "results" / "sense_match.json").unlink()
    assert report.main(["--check", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "docs/extra.md: no table named 'no_such_table'" in out
    assert "bench/results/sense_match.json is missing" in out


def test_readme_is_a_short_space_card():
    """At most 250 lines, opening with Spaces front matter that names the Gradio SDK (the pinned version), Python
    3.11 and the app file."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert len(text.splitlines()) <= 250
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and os.path.exists(os.path.join(ROOT, "app.py"))
    assert str(meta["python_version"]) == "3.11"
    pins = open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8").read().split()
    assert f"gradio=={meta['sdk_version']}" in pins  # the Space runs the Gradio the tests run


@pytest.mark.parametrize("name", ["core", "lm", "pretrain", "classify", "translate", "inside"])
def test_every_package_has_an_api_reference_page(name):
    page = os.path.join(ROOT, "docs", "reference", f"{name}.md")
    assert os.path.exists(page) and f"::: {name}" in open(page, encoding="utf-8").read()


def test_an_indented_marker_is_an_example_not_a_table():
    """Markers count only at the start of a line; the same lines indented (a code block) are left as they are."""
    text = "    <!-- report:models -->\n    ...\n    <!-- /report -->\n"
    assert report.render(text, "docs/contributing.md") == text
    written = report.render("<!-- report:models -->\n<!-- /report -->\n", "docs/models.md")
    assert "| model (card) |" in written and written.endswith("<!-- /report -->\n")


def test_pyproject_installs_the_pinned_stack_and_every_console_script_names_a_main():
    """`pip install -e .` installs requirements.txt's pins, and each console script points at a module-level
    `main` of a listed package (checked by reading the source: nothing is imported)."""
    import ast
    import tomllib

    project = tomllib.load(open(os.path.join(ROOT, "pyproject.toml"), "rb"))
    pins = [line.strip() for line in open(os.path.join(ROOT, "requirements.txt")) if "==" in line]
    assert project["project"]["dependencies"] == pins
    setuptools = project["tool"]["setuptools"]
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    for name, target in project["project"]["scripts"].items():
        module, func = target.split(":")
        top = module.split(".")[0]
        assert top in setuptools["packages"] or top in setuptools["py-modules"], name
        path = os.path.join(ROOT, *module.split(".")) + ".py"
        tree = ast.parse(open(path, encoding="utf-8").read())
        assert func in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, name
    for package in setuptools["packages"]:
        assert os.path.exists(os.path.join(ROOT, package, "__init__.py")), package
