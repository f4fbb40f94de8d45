"""Cross-checks the C encoding decoders (src/parquet/encodings) against pyarrow.

tests/encoding_vectors.py makes pyarrow write Parquet pages with each encoding
(DELTA_BINARY_PACKED int32/int64, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY,
BYTE_STREAM_SPLIT float/double/int32/FLBA, RLE_DICTIONARY int32/double, RLE
booleans, v2 definition levels) and extracts the raw page bytes; the C test
`enc_pyarrow_vectors` decodes them and compares with the Python values, and
checks that our DELTA encoders reproduce pyarrow's bytes exactly.  The same C
test also runs (via test_unit.py) on the checked-in copy in tests/data/encodings.
"""
import os
import subprocess

import pytest

from conftest import BUILD, ROOT
import encoding_vectors

UNIT = BUILD / "unit_tests"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_decoders_match_pyarrow(tmp_path, seed):
    if not UNIT.exists():
        pytest.fail(f"{UNIT} not built")
    n = encoding_vectors.generate(str(tmp_path), seed=seed)
    assert n >= 50
    env = dict(os.environ, SKYTILE_ENC_VECTORS=str(tmp_path))
    p = subprocess.run([str(UNIT), "enc_pyarrow_vectors"], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{n} pyarrow vectors ok" in p.stderr
