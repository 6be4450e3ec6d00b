"""The lean nutpie callbacks (models/nutpie_wrappers.py) compute exactly what nutpie's compute."""

from __future__ import annotations

import ctypes
import dataclasses

import numpy as np
import pytest

from rechallenge.models.nutpie_wrappers import lean_wrappers, record_word_offsets

DOUBLE_P = ctypes.POINTER(ctypes.c_double)


def _shared_record(arrays: dict[str, np.ndarray]) -> np.ndarray:
    from nutpie.compile_pymc import make_user_data

    return make_user_data({name: value for name, value in arrays.items()}, arrays)


def test_word_offsets_read_what_the_record_holds() -> None:
    arrays = {
        "prior_tau_sd": np.array(0.5),
        "site_idx": np.arange(7, dtype=np.int64),
        "table": np.ones((3, 4)),
    }
    record = _shared_record(arrays)
    offsets, n_words = record_word_offsets(record.dtype)
    words = np.frombuffer(record.tobytes(), dtype=np.uint64)
    assert len(words) == n_words
    for name, value in arrays.items():
        assert words[offsets[("data", name)]] == value.ctypes.data
        assert words[offsets[("size", name)]] == value.size
        start = offsets[("shape", name)]
        assert tuple(words[start:start + value.ndim]) == value.shape


def test_a_record_that_is_not_all_words_is_left_to_nutpie() -> None:
    narrow = np.dtype([("shared", [("data", [("x", np.uint32)]), ("size", [("x", np.uint64)]),
                                   ("shape", [("x", np.uint64, (1,))])])])
    assert record_word_offsets(narrow) is None
    assert record_word_offsets(np.dtype([("other", np.uint64)])) is None


def _logp(compiled, x: np.ndarray) -> tuple[int, float, np.ndarray]:
    out = np.zeros(compiled.n_dim)
    logp = np.zeros(())
    code = compiled.compiled_logp_func.ctypes(
        len(x), x.ctypes.data_as(DOUBLE_P), out.ctypes.data_as(DOUBLE_P),
        logp.ctypes.data_as(DOUBLE_P), compiled.user_data.ctypes.data)
    return int(code), float(logp), out


def _expand(compiled, x: np.ndarray) -> tuple[int, np.ndarray]:
    out = np.zeros(compiled.n_expanded)
    code = compiled.compiled_expand_func.ctypes(
        compiled.n_dim, compiled.n_expanded, x.ctypes.data_as(DOUBLE_P),
        out.ctypes.data_as(DOUBLE_P), compiled.user_data.ctypes.data)
    return int(code), out


@pytest.mark.integration
def test_lean_callbacks_equal_nutpies_bit_for_bit() -> None:
    import nutpie

    from rechallenge.data import example_study
    from rechallenge.models.ttp import build_ttp_model

    # Nested: 0-d prior values, integer index arrays and float data among the pm.Data.
    model = build_ttp_model(example_study().for_endpoint("ttp"), nested=True)
    plain = nutpie.compile_pymc_model(model)
    with lean_wrappers() as used:
        lean = nutpie.compile_pymc_model(model)
    assert used
    assert lean.compiled_logp_func is not plain.compiled_logp_func

    rng = np.random.default_rng(20231)
    other_data = {"prior_tau_sd": 2.0, "pooling_hierarchical": 0.0, "pooling_independent": 1.5}
    pairs = [(plain, lean), (plain.with_data(**other_data), lean.with_data(**other_data))]
    for ours, theirs in [(b, a) for a, b in pairs]:
        for _ in range(5):
            x = rng.normal(scale=0.5, size=ours.n_dim)
            code, logp, grad = _logp(ours, x)
            expected_code, expected_logp, expected_grad = _logp(theirs, x)
            assert code == expected_code == 0
            assert logp == expected_logp
            np.testing.assert_array_equal(grad, expected_grad)
            np.testing.assert_array_equal(_expand(ours, x)[1], _expand(theirs, x)[1])
            assert _expand(ours, x)[0] == 0
    # The with_data values are the ones read: the log density moved.
    x = rng.normal(scale=0.5, size=lean.n_dim)
    assert _logp(lean, x)[1] != _logp(pairs[1][1], x)[1]
    # Error codes: a non-finite point, and a wrong dimension.
    bad = np.full(lean.n_dim, 1e300)
    assert _logp(lean, bad)[0] == _logp(plain, bad)[0] != 0
    short = np.zeros(lean.n_dim - 1)
    assert _logp(lean, short)[0] == _logp(plain, short)[0] == -1
    # A record whose stored size does not match its shape: the error codes, not a bad read.
    # (nutpie's own callback reports success here: its reshape error escapes its try.)
    offsets, _ = record_word_offsets(lean.user_data.dtype)
    words = np.frombuffer(bytearray(lean.user_data.tobytes()), dtype=np.uint64)
    words[offsets[("size", "pooling_hierarchical")]] += 1  # a scalar read by both callbacks
    broken = dataclasses.replace(lean, user_data=words.view(lean.user_data.dtype).reshape(()))
    assert _logp(broken, x)[0] == 1
    assert _expand(broken, x)[0] == -2


def test_nutpie_is_left_as_it_was() -> None:
    from nutpie import compile_pymc

    before = (compile_pymc._make_c_logp_func, compile_pymc._make_c_expand_func)
    with lean_wrappers():
        assert compile_pymc._make_c_logp_func is not before[0]
    assert (compile_pymc._make_c_logp_func, compile_pymc._make_c_expand_func) == before
