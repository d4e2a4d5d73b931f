"""The one decision that keeps llama.cpp alive on AMX CPUs, and how crashes are described."""

from __future__ import annotations

import signal

import pytest

from rag.llms import gguf
from rag.llms.supervisor import describe_exit

NATIVE_AMX_BUILD = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 |"
PORTABLE_BUILD = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | REPACK = 1 |"


@pytest.fixture
def machine(monkeypatch):
    def set_machine(flags: set[str], build: str):
        monkeypatch.setattr(gguf, "cpu_flags", lambda: frozenset(flags))
        monkeypatch.setattr(gguf, "build_features", lambda: build)
        monkeypatch.delenv(gguf.REPACK_ENV, raising=False)

    return set_machine


def test_an_amx_build_on_an_amx_cpu_loads_without_repacking(machine):
    machine({"avx2", "avx512f", "amx_int8", "amx_tile"}, NATIVE_AMX_BUILD)
    repack, why = gguf.repack_decision()
    assert repack is False and "AMX" in why


@pytest.mark.parametrize(
    ("flags", "build"),
    [
        ({"avx2", "avx512f", "amx_int8"}, PORTABLE_BUILD),  # AMX CPU, the portable build: no AMX kernels
        ({"avx2", "avx512f"}, NATIVE_AMX_BUILD),  # a build moved to a CPU without AMX: the kernels never run
        ({"avx2"}, PORTABLE_BUILD),  # AMD without AVX-512
    ],
)
def test_elsewhere_repacking_stays_on(machine, flags, build):
    machine(flags, build)
    assert gguf.repack_decision()[0] is True


def test_the_environment_forces_either_way(machine, monkeypatch):
    machine({"amx_int8"}, NATIVE_AMX_BUILD)
    monkeypatch.setenv(gguf.REPACK_ENV, "1")
    assert gguf.repack_decision() == (True, "forced by RAG_LLAMA_REPACK=1")
    machine({"avx2"}, PORTABLE_BUILD)
    monkeypatch.setenv(gguf.REPACK_ENV, "0")
    assert gguf.repack_decision()[0] is False


def test_build_features_are_read_as_words(monkeypatch):
    monkeypatch.setattr(gguf, "build_features", lambda: "CPU : AVX512 = 1 | AVX512_VNNI = 0 | AMX_INT8 = 0 |")
    assert gguf.build_has("AVX512") and not gguf.build_has("AVX512_VNNI") and not gguf.build_has("AMX_INT8")


def test_exits_are_described_for_people():
    assert describe_exit(-signal.SIGSEGV) == "killed by SIGSEGV (Segmentation fault)"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL (killed)"
    assert describe_exit(3) == "exited with status 3"
