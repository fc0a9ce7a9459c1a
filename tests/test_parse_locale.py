"""The parser does not depend on the process locale (issue 16, adversarial item 1).

The raw parser reads most numbers itself and hands the rest (exponents beyond
+-22, values next to a float32 rounding tie) to the C library's strtod, which
follows ``LC_NUMERIC``: under a decimal-comma locale it stopped at the '.' and
turned 128.58 into 128.0, silently, in 13,515 points of 268 real raw drawings.
Here a decimal-comma locale is set in this process and every real raw drawing
must parse exactly as ``np.float32(json.loads(text))``.

Debian-like machines ship only C and POSIX; when no decimal-comma locale is
installed the test compiles de_DE.UTF-8 with glibc's ``localedef`` into a
temporary folder and points ``LOCPATH`` at it (no root needed, same in CI). Without
``localedef`` and its locale sources (Debian: ``apt-get install locales``) the test
fails and says so.
"""

import csv
import gzip
import json
import locale
import os
import shutil
import subprocess

import numpy as np
import pytest

from rasterfast import parse_drawings

_INSTALLED = ("de_DE.UTF-8", "de_DE.utf8", "de_DE", "fr_FR.UTF-8", "fr_FR.utf8", "nl_NL.UTF-8")


def _try_locale(name: str) -> bool:
    saved = locale.setlocale(locale.LC_NUMERIC)
    try:
        locale.setlocale(locale.LC_NUMERIC, name)
        return locale.localeconv()["decimal_point"] == ","
    except locale.Error:
        return False
    finally:
        locale.setlocale(locale.LC_NUMERIC, saved)


@pytest.fixture(scope="module")
def decimal_comma_locale(tmp_path_factory):
    """The name of a locale whose decimal point is ',' (LOCPATH set while it is in use)."""
    for name in _INSTALLED:
        if _try_locale(name):
            yield name
            return
    localedef = shutil.which("localedef")
    if localedef is None:
        pytest.fail("no decimal-comma locale is installed and glibc's localedef is missing; "
                    "install one (Debian: apt-get install locales) to run this test")
    folder = tmp_path_factory.mktemp("locales")
    done = subprocess.run([localedef, "-i", "de_DE", "-f", "UTF-8", str(folder / "de_DE.UTF-8")],
                          capture_output=True, text=True)
    if not (folder / "de_DE.UTF-8" / "LC_NUMERIC").is_file():
        pytest.fail("no decimal-comma locale is installed and localedef could not build "
                    f"de_DE.UTF-8 (exit {done.returncode}: {done.stderr.strip()}); install the "
                    "glibc locale sources (Debian: apt-get install locales)")
    saved = os.environ.get("LOCPATH")
    os.environ["LOCPATH"] = str(folder)   # glibc reads it at every setlocale call
    try:
        if not _try_locale("de_DE.UTF-8"):
            pytest.fail(f"localedef built de_DE.UTF-8 in {folder}, but setlocale cannot use it")
        yield "de_DE.UTF-8"
    finally:
        if saved is None:
            del os.environ["LOCPATH"]
        else:
            os.environ["LOCPATH"] = saved


def _raw_drawing_texts(data_dir) -> list[str]:
    """The drawing text of every real raw drawing, as the files spell the numbers."""
    texts = []
    for path in sorted((data_dir / "ndjson" / "raw").glob("*.ndjson.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                # the drawing is the last key of Google's lines: cut its text out as it
                # is (json.dumps would respell the numbers that reach strtod)
                start = line.index('"drawing":') + len('"drawing":')
                texts.append(line[start:line.rindex("}")])
    for path in sorted((data_dir / "kaggle" / "train_raw").glob("*.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
            texts.extend(row["drawing"] for row in csv.DictReader(f))
    return texts


def _expected(texts):
    xs, ys = [], []
    for text in texts:
        for stroke in json.loads(text):
            xs.extend(stroke[0])
            ys.extend(stroke[1])
    return np.float32(np.asarray(xs, np.float64)), np.float32(np.asarray(ys, np.float64))


def test_raw_parse_ignores_decimal_comma_locale(data_dir, decimal_comma_locale):
    # issue 16, adversarial item 1: strtod followed LC_NUMERIC (128.58 -> 128.0 under de_DE)
    texts = _raw_drawing_texts(data_dir)
    assert len(texts) > 10_000
    want_x, want_y = _expected(texts)
    saved = locale.setlocale(locale.LC_NUMERIC)
    locale.setlocale(locale.LC_NUMERIC, decimal_comma_locale)
    try:
        assert locale.localeconv()["decimal_point"] == ","
        as_str = parse_drawings(texts, kind="raw")
        as_bytes = parse_drawings([t.encode() for t in texts], kind="raw")
    finally:
        locale.setlocale(locale.LC_NUMERIC, saved)
    for batch in (as_str, as_bytes):
        assert len(batch) == len(texts)
        wrong = np.flatnonzero((batch.x != want_x) | (batch.y != want_y))
        assert len(wrong) == 0, (f"{len(wrong)} of {len(want_x)} points differ from json.loads "
                                 f"under {decimal_comma_locale}, e.g. point {wrong[0]}: "
                                 f"({batch.x[wrong[0]]}, {batch.y[wrong[0]]}) != "
                                 f"({want_x[wrong[0]]}, {want_y[wrong[0]]})")
