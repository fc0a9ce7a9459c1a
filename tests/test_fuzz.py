"""The fuzz targets of bench/fuzz as Hypothesis tests, and a regression test for each
contract violation that the adversarial run of issue 16 and the fuzzer found.

Each target's ``run(data)`` checks the decoder contract under skip, raise and warn
(see bench/fuzz/_contract.py): a StrokeParseError naming file, record and reason, or
a counted reject, and what is accepted equal to a reference reading. Here Hypothesis
draws a few dozen inputs per target (a seed mutated by the fuzzer's own mutator, or
random bytes); ``python -m bench.fuzz`` runs the same targets for millions.
"""

import gzip
import io
import json
import struct
import sys
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rasterfast import InputReadError, StrokeParseError, detect_kind, parse_drawings, read_drawings

ROOT = Path(__file__).resolve().parent.parent
try:
    import bench.fuzz  # noqa: F401
except ImportError:    # pytest run from elsewhere: the checkout's bench/, after site-packages
    sys.path.append(str(ROOT))
from bench.fuzz import Mutator, discover  # noqa: E402

TARGETS = discover()
DECODER_TARGETS = ["parse_simplified", "parse_raw", "ndjson", "csv", "bin", "gzip", "zstd",
                   "zip"]


@pytest.fixture(scope="module")
def seeds(data_dir):
    """Every target's seeds (they read the real sample)."""
    return {name: TARGETS[name].seeds() for name in DECODER_TARGETS}


def test_every_decoder_has_a_target():
    assert set(DECODER_TARGETS) <= set(TARGETS)


@pytest.mark.parametrize("name", DECODER_TARGETS)
def test_target_seeds_pass(name, seeds):
    # the seeds themselves (real drawings, edge cases) obey the contract
    for data in seeds[name]:
        TARGETS[name].run(data)


@pytest.mark.parametrize("name", DECODER_TARGETS)
def test_target_mutations(name, seeds):
    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.integers(0, len(seeds[name]) - 1), st.randoms(use_true_random=False),
           st.binary(max_size=64))
    def check(i, rng, noise):
        corpus = seeds[name]
        data = Mutator(rng, corpus, max_len=1 << 12)(corpus[i])
        TARGETS[name].run(data)
        TARGETS[name].run(noise)

    check()


def test_fuzz_cli_lists_and_runs(tmp_path):
    import subprocess

    out = subprocess.run([sys.executable, "-m", "bench.fuzz", "--list"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    assert all(name in out for name in DECODER_TARGETS)
    proc = subprocess.run([sys.executable, "-m", "bench.fuzz", "bin", "--inputs", "200",
                           "--findings", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "200 inputs" in proc.stdout and "0 findings" in proc.stdout


def test_fuzzer_saves_findings(tmp_path):
    # a target that breaks its contract: each finding is counted and saved with its input
    from bench.fuzz import Target, fuzz

    def run(data):
        if b"x" in data:
            raise ValueError("found an x")

    r = fuzz(Target("demo", lambda: [b"abc", b"x"], run), inputs=50, findings_dir=tmp_path)
    assert r.inputs == 50 and r.findings >= 1
    saved = sorted((tmp_path / "demo").glob("*.bin"))
    assert saved and all(b"x" in p.read_bytes() for p in saved)
    assert "found an x" in saved[0].with_suffix(".txt").read_text()


_DEMO = """
import re, sys, time
sys.path.insert(0, {root!r})
from bench.fuzz import Target, fuzz

def run(data):
    if data == b"sleep":          # a hang that releases the GIL: the watchdog sees it
        time.sleep(60)
    if data == b"spin":           # a hang that holds the GIL: only the CPU backstop sees it
        re.match(r"(a+)+$", "a" * 64 + "b")
    if data == b"boom":           # a hard crash, no Python exception
        import os, signal
        os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(0.002)

seeds = [b"ok"] + [a.encode() for a in sys.argv[2:]]
r = fuzz(Target("demo", lambda: seeds, run), inputs=int(sys.argv[1]), findings_dir={out!r},
         timeout=0.5)
print(r.inputs, r.findings)
"""


def _demo(tmp_path, inputs, *seeds):
    import subprocess

    script = tmp_path / "demo.py"
    script.write_text(_DEMO.format(root=str(ROOT), out=str(tmp_path / "found")))
    return subprocess.Popen([sys.executable, str(script), str(inputs), *seeds],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_fuzzer_pause_is_not_a_hang(tmp_path):
    # a campaign is paused with SIGSTOP while benchmarks run: 3 s stopped, timeout 0.5 s
    import signal
    import time

    proc = _demo(tmp_path, 1500)
    time.sleep(1.0)
    proc.send_signal(signal.SIGSTOP)
    time.sleep(3.0)
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    assert out.split() == ["1500", "0"]
    assert not (tmp_path / "found" / "demo").exists()   # no finding, no last input


@pytest.mark.parametrize("which, status", [("sleep", 3), ("spin", -27), ("boom", None)])
def test_fuzzer_hang_or_crash_leaves_its_input(tmp_path, which, status):
    import signal

    proc = _demo(tmp_path, 10, which)
    out, err = proc.communicate(timeout=120)
    found = tmp_path / "found" / "demo"
    if status == -27:
        status = -signal.SIGPROF
    if status is None:      # SIGSEGV, or SIGABRT where a sanitizer handles it
        assert proc.returncode < 0, (proc.returncode, out, err)
    else:
        assert proc.returncode == status, (proc.returncode, out, err)
    # the input that ran is left behind, whatever ended the process
    assert (found / "last-input.seed0.bin").read_bytes() == which.encode()
    if which == "sleep":    # the watchdog saved it as a finding, with the stack
        hang = list(found.glob("hang-*.bin"))
        assert [p.read_bytes() for p in hang] == [b"sleep"]
        assert "time.sleep(60)" in hang[0].with_suffix(".txt").read_text()
    else:                   # faulthandler wrote the Python stack of the main thread
        assert "in run" in (found / "faulthandler.seed0.txt").read_text()


def test_fuzz_campaign_ledger(tmp_path):
    # chunks of a campaign: other seeds, counts added up in the ledger; --until tops up
    import subprocess

    ledger = tmp_path / "campaign.json"

    def cli(*args):
        proc = subprocess.run([sys.executable, "-m", "bench.fuzz", "bin", "--findings",
                               str(tmp_path / "found"), "--json", str(ledger), *args],
                              cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    cli("--inputs", "100", "--seed", "1")
    out = cli("--until", "250", "--seed", "2")
    assert "| bin | 250 |" in out
    assert "done: 250 inputs" in cli("--until", "250", "--seed", "3")
    runs = json.loads(ledger.read_text())["runs"]["bin"]
    assert {k: v["inputs"] for k, v in runs.items()} == {"1": 100, "2": 150}
    assert all(v["findings"] == 0 and v["cpu_seconds"] > 0 for v in runs.values())
    table = subprocess.run([sys.executable, "-m", "bench.fuzz", "--table", str(ledger)],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "| bin | 250 |" in table and "| 1,2 |" in table


# -- regressions: what the adversarial run of issue 16 found ------------------------------

LINE = (b'{"word":"cat","countrycode":"US","timestamp":"2017-03-08 21:12:07.26604 UTC",'
        b'"recognized":true,"key_id":"123","drawing":[[[1,2],[3,4]]]}')
HEADER = b"countrycode,drawing,key_id,recognized,timestamp,word\n"
ROW = b'US,"[[[1, 2], [3, 4]]]",123,True,2017-03-08 21:12:07.266040,cat\n'


def _read(tmp_path, name, data, on_error="skip", **kw):
    path = tmp_path / name
    path.write_bytes(data)
    batches = list(read_drawings(path, on_error=on_error, **kw))
    return sum(map(len, batches)), [r for b in batches for r in b.rejects], batches


@pytest.mark.parametrize("line, reason", [
    (LINE[:-1] + b', "zz": xyz}', "expected a value"),                 # JSON outside drawing
    (LINE.replace(b"[[[1,2],[3,4]]]", b'"[[[1,2],[3,4]]]"'), "not a JSON array"),
    (LINE.replace(b'"cat"', b'"c\xffat"'), "invalid JSON string"),
    (LINE.replace(b'"cat"', b'"c\\xat"'), "invalid JSON string"),      # bad escape
    (LINE.replace(b'"cat"', b'"c\tat"'), "invalid JSON string"),       # control character
    (LINE.replace(b'"cat"', b"5"), "word must be a string"),
    (LINE.replace(b"true", b'"True"'), "recognized must be true or false"),
    (LINE.replace(b"true", b'"null"'), "recognized must be true or false"),
    (LINE.replace(b"true", b"1"), "recognized must be true or false"),
    (LINE.replace(b'"cat"', b'"\\ud800"'), "not valid Unicode"),
])
def test_ndjson_invalid_json_is_a_reject(tmp_path, line, reason):
    # issue 16 item 3: these lines were accepted silently
    n, rejects, _ = _read(tmp_path, "a.ndjson", line + b"\n" + LINE)
    assert n == 1 and len(rejects) == 1 and rejects[0].record == 0
    assert reason in rejects[0].reason
    with pytest.raises(StrokeParseError, match=reason) as err:
        _read(tmp_path, "a.ndjson", line, on_error="raise")
    assert err.value.record == 0


def test_ndjson_one_reject_per_line(tmp_path):
    # issue 16 item 3: bad syntax and a bad key_id on one line gave two rejects
    bad = LINE.replace(b'"123"', b'"x"')[:-1] + b" x"
    n, rejects, _ = _read(tmp_path, "a.ndjson", bad + b"\n" + LINE)
    assert n == 1 and [r.record for r in rejects] == [0]


def test_ndjson_escaped_key_and_null_values(tmp_path):
    # issue 16 item 3: an escaped key was ignored ("no 'drawing' key"); null is absent
    line = LINE.replace(b'"drawing"', b'"dr\\u0061wing"').replace(b'"cat"', b"null")
    n, rejects, batches = _read(tmp_path, "a.ndjson", line)
    assert n == 1 and not rejects
    assert batches[0].word[0] == "" and batches[0].drawing(0)[0].tolist() == [[1, 2], [3, 4]]


def test_ndjson_undecidable_first_drawing_is_a_counted_reject(tmp_path):
    # issue 16 item 3: raised StrokeParseError without a record under skip
    first = LINE.replace(b"[[[1,2],[3,4]]]", b"[]")
    for on_error in ("skip", "warn"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n, rejects, _ = _read(tmp_path, "a.ndjson", first + b"\n" + LINE, on_error)
        assert n == 1 and [r.record for r in rejects] == [0]


def test_ndjson_string_drawing_nested_deeply(tmp_path):
    # issue 16 item 6: RecursionError
    line = LINE.replace(b"[[[1,2],[3,4]]]", b'"' + b"[" * 100_000 + b'"')
    n, rejects, _ = _read(tmp_path, "a.ndjson", line + b"\n" + LINE)
    assert n == 1 and [r.record for r in rejects] == [0]


def test_detect_kind_deep_nesting():
    # issue 16 item 6: RecursionError from json.loads
    with pytest.raises(StrokeParseError, match="nested too deeply"):
        detect_kind("[" * 100_000)


def _bin_record(country: bytes) -> bytes:
    return (struct.pack("<Q2sbIH", 5, country, 1, 7, 1) + struct.pack("<H", 2)
            + bytes([1, 2, 3, 4]))


def test_bin_non_ascii_country(tmp_path):
    # issue 16 item 4: UnicodeDecodeError
    data = _bin_record(b"US") + _bin_record(b"\xc3\xa9")
    n, rejects, _ = _read(tmp_path, "cat.bin", data)
    assert n == 1 and [r.record for r in rejects] == [1]
    assert "country code" in rejects[0].reason
    with pytest.raises(InputReadError, match="country code"):
        _read(tmp_path, "cat.bin", data, on_error="raise")


def test_csv_header_not_utf8(tmp_path):
    # issue 16 item 5: UnicodeDecodeError
    with pytest.raises(InputReadError, match="header line: the line is not UTF-8") as err:
        _read(tmp_path, "a.csv", b"countrycode,dr\xffawing\n" + ROW, on_error="raise")
    assert err.value.source.endswith("a.csv") and err.value.record == 0


def test_csv_bad_byte_rejects_one_row_not_a_block(tmp_path):
    # issue 16 item 5: under skip one bad byte lost the whole 4 MiB block (kept 0 of 60,000)
    rows = [ROW] * 60_000
    rows[30_000] = ROW.replace(b"US", b"U\xff")
    n, rejects, _ = _read(tmp_path, "a.csv", HEADER + b"".join(rows))
    assert n == 59_999 and [r.record for r in rejects] == [30_000]
    assert "not UTF-8" in rejects[0].reason


def test_csv_duplicate_column(tmp_path):
    # issue 16 item 5: KeyError
    with pytest.raises(InputReadError, match="drawing more than once"):
        _read(tmp_path, "a.csv", HEADER.replace(b"word", b"drawing") + ROW, on_error="raise")


def test_csv_invalid_row_not_utf8_prints_nothing(tmp_path):
    # issue 16 item 5: pyarrow printed "Exception ignored" (decoding the row for its handler);
    # pytest turns an unraisable exception into a failing warning here
    data = HEADER + ROW + b"U\xcc,1\n" + ROW
    n, rejects, _ = _read(tmp_path, "a.csv", data)
    assert n == 2 and [r.record for r in rejects] == [1]


def test_csv_open_quote_rejects_its_line_only(tmp_path):
    # found by the fuzzer: a quote left open made pyarrow read on into the next lines, so
    # records no longer matched lines (and the rows at the end were lost uncounted)
    data = HEADER + ROW + b'US,"[[[1, 2], [3, 4]]],1,True,2017-03-08 21:12:07,cat\n' + ROW
    n, rejects, _ = _read(tmp_path, "a.csv", data)
    assert n == 2 and [r.record for r in rejects] == [1]
    assert "quote" in rejects[0].reason
    n, rejects, _ = _read(tmp_path, "b.csv", HEADER + b'US,"[[[1, 2]')
    assert n == 0 and [r.record for r in rejects] == [0]


def test_csv_kind_detection_deep_nesting(tmp_path):
    # issue 16 item 6: RecursionError in the CSV's kind detection
    data = HEADER + b'US,"' + b"[" * 100_000 + b'",1,True,2017-03-08 21:12:07,cat\n' + ROW
    n, rejects, batches = _read(tmp_path, "a.csv", data)
    assert n == 1 and [r.record for r in rejects] == [0] and batches[0].kind == "simplified"


def test_csv_row_too_long_is_classified_by_type(tmp_path):
    # issue 16 "what to build" 6: errors told apart by type, not by pyarrow's message
    from rasterfast.readers._csv import RowTooLongError

    long_row = b'US,"[[[' + b"1, " * 600_000 + b'1], [1]]]",1,True,2017-03-08 21:12:07,cat\n'
    with pytest.raises(RowTooLongError, match="longer than the block size") as err:
        _read(tmp_path, "a.csv", HEADER + ROW + long_row + ROW, on_error="raise",
              block_size=1 << 20)
    assert err.value.record == 0        # the first record lost: row 0 shares its block
    n, rejects, _ = _read(tmp_path, "a.csv", HEADER + ROW + long_row + ROW,
                          block_size=1 << 20)
    assert n == 0 and [r.record for r in rejects] == [0]


def _zip_bytes(payload: bytes, name: str = "x.ndjson") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, payload)
    return buf.getvalue()


def test_corrupt_zip_is_a_reject_like_corrupt_gzip(tmp_path):
    # issue 16 item 7: a corrupt zip raised under skip, a corrupt .gz was a reject
    for name, data in (("a.zip", b"PK\x03\x04garbage"), ("a.ndjson.gz", b"\x1f\x8bgarbage")):
        n, rejects, _ = _read(tmp_path, name, data)
        assert n == 0 and [r.record for r in rejects] == [0], name
        with pytest.raises(InputReadError):
            _read(tmp_path, name, data, on_error="raise")


def _central(z: bytes, offset: int, value: bytes) -> bytes:
    """``z`` with the field at ``offset`` of its central directory record set to ``value``."""
    at = z.find(b"PK\x01\x02") + offset
    return z[:at] + value + z[at + len(value):]


@pytest.mark.parametrize("tamper", [
    lambda z: z.replace(b"x.ndjson", b"y.ndjson", 1),         # names differ: BadZipFile
    lambda z: _central(z, 10, b"\x63\x00"),                    # method 99: NotImplementedError
    lambda z: _central(z, 8, b"\x20\x00"),                     # patched data: NotImplementedError
    lambda z: _central(z, 6, b"\x7e\x00"),                     # version 12.6: NotImplementedError
    lambda z: _central(z, 8, b"\x01\x00"),                     # encrypted: RuntimeError
    lambda z: z.replace(b"PK\x01\x02", b"PK\x01\x03"),        # no central directory
])
def test_zip_member_corruptions_are_input_read_errors(tmp_path, tamper):
    # issue 16 item 7: BadZipFile, NotImplementedError, ... escaped
    data = tamper(_zip_bytes(LINE))
    try:
        n, rejects, _ = _read(tmp_path, "a.zip", data)
    except FileNotFoundError:
        pytest.fail("a zip with a member is an input")
    assert n == 0 and [r.record for r in rejects] == [0]
    with pytest.raises(InputReadError) as err:
        _read(tmp_path, "a.zip", data, on_error="raise")
    assert err.value.record == 0 and "a.zip" in err.value.source


def test_zip_reference_checks_only_the_contract_of_a_member_stored_past_the_end(tmp_path):
    # A false finding (zip seed 310, input 120,151): the directory gave the member more
    # stored bytes than the archive holds. Python's zipfile reads it whole when asked for
    # everything, and raises EOFError when it is read in pieces, as the reader reads; the
    # reader counted a truncation. The archive is cut short by its own account.
    from bench.fuzz import readers as fuzz_readers
    from bench.fuzz._contract import ContractViolation

    text = LINE.replace(b'"cat"', b'"' + b"c" * 9000 + b'"') + b"\n" + (LINE + b"\n") * 3
    data = _central(_zip_bytes(text), 20, struct.pack("<I", 1 << 16))   # compressed size
    assert len(data) < 1 << 16
    assert zipfile.ZipFile(io.BytesIO(data)).read("x.ndjson") == text
    # read in 4 KiB blocks (the fuzz targets' size): the archive (~300 bytes) is used up
    # by the first piece, the decompressor's output is not
    n, rejects, _ = _read(tmp_path, "a.zip", data, block_size=fuzz_readers.BLOCK)
    assert any("truncated" in r.reason for r in rejects), rejects
    plain = _read(tmp_path, "a.ndjson", text, block_size=fuzz_readers.BLOCK)[2]
    assert sum(map(len, plain)) == 4
    with pytest.raises(ContractViolation, match="records differ"):    # the old reference
        fuzz_readers._same_as_plain(str(tmp_path / "a.zip"), plain)
    fuzz_readers.check_zip(bytes([0]) + data)          # ndjson inside: no finding now


def test_lzma_member_corruption(tmp_path):
    # issue 16 item 7 (found again by the fuzzer): _lzma.LZMAError escaped
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_LZMA) as z:
        z.writestr("x.ndjson", LINE * 50)
    data = bytearray(buf.getvalue())
    data[60:70] = b"\xff" * 10
    n, rejects, _ = _read(tmp_path, "a.zip", bytes(data))
    assert n == 0 and len(rejects) == 1
    assert "zip" in rejects[0].reason


def test_empty_compressed_file_names_record_0(tmp_path):
    # found by the fuzzer: the InputReadError of an empty .gz named no record
    with pytest.raises(InputReadError) as err:
        _read(tmp_path, "a.ndjson.gz", b"", on_error="raise")
    assert err.value.record == 0


def test_max_points_beyond_int64():
    # issue 16 item 9: OverflowError
    b = parse_drawings(["[[[1],[2]]]"], max_points=2**63, max_strokes=2**64)
    assert len(b) == 1
    with pytest.raises(ValueError, match="max_points"):
        parse_drawings(["[[[1],[2]]]"], max_points=True)


def test_read_drawings_max_points_beyond_int64(tmp_path):
    n, rejects, _ = _read(tmp_path, "cat.bin", _bin_record(b"US"), max_points=2**63)
    assert n == 1 and not rejects
    with pytest.raises(ValueError, match="max_points"):
        _read(tmp_path, "cat.bin", _bin_record(b"US"), max_points=0)


def test_gzip_of_csv_with_bad_bytes_matches_plain(tmp_path):
    # the containers read as their content does, bad lines included
    data = HEADER + ROW + ROW.replace(b"cat", b"c\xffat") + ROW
    plain = _read(tmp_path, "a.csv", data)
    packed = _read(tmp_path, "a.csv.gz", gzip.compress(data))
    assert plain[0] == packed[0] == 2
    assert [(r.record, r.reason) for r in plain[1]] == [(r.record, r.reason) for r in packed[1]]


@pytest.mark.parametrize("digits", [397, 398])
def test_ndjson_reference_knows_the_400_character_number_limit(digits):
    # a false finding of the ndjson target under ASan (seed 7, main): a raw drawing's
    # number "0.000...01" of 402 characters is malformed for the parser (ext/_parse.pyx
    # MAX_NUMBER_CHARS), while json.loads read it; the reference now applies the limit,
    # and a number outside the drawing stays a value (the reader skips unknown fields)
    from bench.fuzz.readers import check_ndjson

    raw = LINE.replace(b"[[[1,2],[3,4]]]", b"[[[1,2],[3,4],[0,5]]]")
    number = b"0." + b"0" * digits + b"1"          # 400 or 401 characters
    assert len(number) in (400, 401)
    for line in (raw.replace(b"[[[1,2]", b"[[[1," + number + b"]"),
                 raw[:-1] + b',"zz":' + number + b"}"):
        check_ndjson(line + b"\n" + raw)      # raw decides the kind of the file
    batch = parse_drawings([b"[[[1," + number + b"],[3,4],[0,5]]]"], "raw", "skip")
    assert [r.reason for r in batch.rejects] == (["malformed number"] if len(number) > 400
                                                 else [])


@pytest.mark.parametrize("cut, kept", [(1, 300), (4, 300), (50, 0), (200, 0)])
def test_truncated_zstd_is_a_counted_break(tmp_path, cut, kept):
    # found by the zstd target under ASan (seed 7): zstandard's stream_reader ends quietly
    # inside a frame, so a truncated .zst read as a shorter (often empty) file, no reject
    import zstandard

    lines = [LINE.replace(b"[[[1,2]", b"[[[%d,2]" % (i % 256)) for i in range(300)]
    data = zstandard.ZstdCompressor(write_checksum=True).compress(b"\n".join(lines) + b"\n")
    n, rejects, _ = _read(tmp_path, "a.ndjson.zst", data[:-cut])
    assert n == kept
    assert [(r.record, r.reason.split(" (")[0]) for r in rejects] == [
        (kept, "truncated: the compressed data ends here")]
    with pytest.raises(InputReadError, match="ends inside a frame"):
        _read(tmp_path, "a.ndjson.zst", data[:-cut], on_error="raise")
    # whole, and as two frames, it reads every line
    assert _read(tmp_path, "a.ndjson.zst", data)[:2] == (300, [])
    two = data + zstandard.ZstdCompressor().compress(lines[0] + b"\n")
    assert _read(tmp_path, "a.ndjson.zst", two)[:2] == (301, [])


def test_csv_quote_opened_after_a_value_rejects_its_line_only(tmp_path):
    # found by the csv target under ASan (seed 11): in `12","3,True,...` both quotes touch
    # a ',', so the whole-block check let the block through, but the second quote opens a
    # value the line never closes; pyarrow merged it with the next line, the records
    # after it were numbered one too low and one line's drawing was lost uncounted
    bad = b'US,"[[[1, 2], [3, 4]]]",12","3,True,2017-03-08 21:12:07.266040,cat\n'
    rows = [ROW.replace(b"[[[1, 2]", b"[[[%d, 2]" % i) for i in range(3)]
    n, rejects, batches = _read(tmp_path, "a.csv", HEADER + rows[0] + bad + rows[1] + rows[2])
    assert n == 3 and [r.record for r in rejects] == [1]
    assert "quote" in rejects[0].reason
    kept = [r for b in batches for r in b.record.tolist()]
    xs = [int(b.x[b.stroke_offsets[b.drawing_offsets[i]]]) for b in batches
          for i in range(len(b))]
    assert kept == [0, 2, 3] and xs == [0, 1, 2]
    # a doubled quote inside a value still reads (line by line)
    doubled = ROW.replace(b",cat\n", b',"a ""cat"""\n')
    n, rejects, batches = _read(tmp_path, "b.csv", HEADER + doubled + rows[1])
    assert n == 2 and not rejects and batches[0].word[0] == 'a "cat"'


def _store_often(ledger_path, seed, times):
    from bench.fuzz.__main__ import _store
    for i in range(times):
        _store(ledger_path, {"runs": {"bin": {str(seed): {"inputs": i + 1}}}})


def test_fuzz_ledger_writes_at_once_lose_nothing(tmp_path):
    # many chunks checkpointing the same ledger at the same instants: each one's last
    # entry survives (a read-merge-replace without a lock lost entries when two overlapped)
    import multiprocessing

    ledger = tmp_path / "campaign.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_store_often, args=(ledger, seed, 40)) for seed in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    runs = json.loads(ledger.read_text())["runs"]["bin"]
    assert runs == {str(seed): {"inputs": 40} for seed in range(6)}


def test_fuzz_campaign_chunks_at_once_keep_each_others_counts(tmp_path):
    # two chunks (one per core, other seeds) write the same ledger while both run
    import subprocess

    ledger = tmp_path / "campaign.json"
    procs = [subprocess.Popen([sys.executable, "-m", "bench.fuzz", "bin", "--inputs", "300",
                               "--seed", str(seed), "--json", str(ledger), "--findings",
                               str(tmp_path / "found")], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for seed in (5, 6)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, out + err
    runs = json.loads(ledger.read_text())["runs"]["bin"]
    assert {k: v["inputs"] for k, v in runs.items()} == {"5": 300, "6": 300}
    assert not (tmp_path / "found" / "bin").exists()    # no finding, no input left


def test_a_cached_reference_error_keeps_no_caller_alive():
    # A cached error with a traceback (its own, its __cause__'s, or the one each raise
    # hangs on it) keeps the frames of the stack alive, the checker's batches with them: the
    # ASan campaign's ndjson chunk grew past 2.3 GB. The first call below caches the error,
    # the second raises it from the cache; neither may keep its caller's locals.
    import gc
    import weakref

    from bench.fuzz._contract import cached_reference

    class Batches:
        pass

    @cached_reference
    def reference(text):
        try:
            json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError("not JSON") from err

    def check(text):
        batches = Batches()
        with pytest.raises(ValueError, match="not JSON"):
            reference(text)
        return weakref.ref(batches)

    alive = [check("{"), check("{")]
    gc.collect()
    assert [r() for r in alive] == [None, None]


def test_a_cached_reference_error_keeps_its_type_and_message():
    from bench.fuzz._contract import cached_reference

    @cached_reference
    def reference(text):
        return json.loads(text)

    for _ in range(2):   # computed, then from the cache
        with pytest.raises(json.JSONDecodeError, match="Expecting value") as info:
            reference("[1, ")
        assert info.value.pos == 4 and info.value.__traceback__ is not None
    with pytest.raises(UnicodeDecodeError):
        reference(b"\xff")
    with pytest.raises(UnicodeDecodeError):
        reference(b"\xff")


@pytest.mark.parametrize("field", [b"word", b"countrycode"])
def test_ndjson_reference_refuses_an_escaped_lone_surrogate(tmp_path, field):
    # a false finding of the campaign (ndjson, seed 305, input 38,955, ASan): a word
    # "cra\ud800yon" is a reject of the reader ("not valid Unicode"), while json.loads
    # decodes it to a str with a lone surrogate; the reference now refuses it too. A
    # surrogate pair is one character, accepted by both.
    from bench.fuzz.readers import check_ndjson, ndjson_reference

    value = {b"word": b"cat", b"countrycode": b"US"}[field]
    lone = LINE.replace(b'"%s":"%s"' % (field, value), b'"%s":"c\\ud800t"' % field)
    pair = LINE.replace(b'"%s":"%s"' % (field, value), b'"%s":"c\\ud83d\\ude00t"' % field)
    assert lone != LINE and pair != LINE
    with pytest.raises(ValueError, match="lone surrogate"):
        ndjson_reference(lone, "simplified")
    check_ndjson(lone + b"\n" + LINE)
    check_ndjson(pair + b"\n" + LINE)
    kept, rejects, _ = _read(tmp_path, "lone.ndjson", lone + b"\n" + LINE)
    assert kept == 1 and [(r.record, r.reason) for r in rejects] == [
        (0, f"{field.decode()} is not valid Unicode (an escaped lone surrogate)")]
    kept, rejects, batches = _read(tmp_path, "pair.ndjson", pair)
    assert kept == 1 and not rejects
    assert getattr(batches[0], field.decode())[0] == "c\U0001f600t"


@pytest.mark.parametrize("stamp, kept", [
    (b"2017-03-22 22:54:54.8119 UTC", "2017-03-22T22:54:54.811900"),
    (b"2017-03-22 22:54:54.811900", "2017-03-22T22:54:54.811900"),
    (b"2017-03-22T22:54:54 UTC", "2017-03-22T22:54:54.000000"),
    (b"2017-03-22 22:54:54.8119  UTC", None),     # the campaign's finding (seed 306)
    (b"2017-03-22 UTC 22:54:54", None),           # " UTC" was removed wherever it stood
    (b"2017-03-22 22:54:54 UTC UTC", None),
    (b"2017-03-22 22:54:54   ", None),            # trailing spaces were trimmed
    (b"2017-03-22 22:54:54.1234567", None),       # more than microseconds
    (b"2017-13-22 22:54:54", None),               # the pattern, not a date: another reason
])
def test_a_timestamp_is_read_exactly_or_rejected(tmp_path, stamp, kept):
    # a finding of the campaign (ndjson, seed 306, input 26,943, ASan): the reader took
    # "2017-03-22 22:54:54.8119  UTC" (two spaces) for a timestamp, since it removed " UTC"
    # anywhere in the text and then trimmed spaces; the reference refused it. A timestamp
    # is now Kaggle's or Google's form (a T for the space, 1-6 fraction digits, one
    # " UTC" at the end) or a reject, in ndjson and CSV alike.
    from bench.fuzz.readers import check_csv, check_ndjson

    line = LINE.replace(b"2017-03-08 21:12:07.26604 UTC", stamp)
    row = ROW.replace(b"2017-03-08 21:12:07.266040", stamp)
    assert line != LINE and row != ROW
    check_ndjson(line + b"\n" + LINE)
    check_csv(HEADER + row + ROW)
    for name, data in (("t.ndjson", line), ("t.csv", HEADER + row)):
        n, rejects, batches = _read(tmp_path, name, data)
        if kept is None:
            assert n == 0 and len(rejects) == 1 and "timestamp" in rejects[0].reason, name
        else:
            assert n == 1 and not rejects, name
            assert str(batches[0].timestamp[0]) == kept, name
