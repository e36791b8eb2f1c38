"""The microarchitecture table (csrc/arch/uarch.cpp): CPUID detection, KERNELS_CPU_UARCH, the block
sizes each row's rule gives, and that products stay correct under every row's parameters."""
from __future__ import annotations

import json
import platform

import numpy as np
import pytest

from _helpers import python_code

_cpu = pytest.importorskip("hpc_kernels._cpu", reason="cpu extension not built")

ROWS = ("zen5", "zen4", "zen3", "zen2", "spr", "skx", "haswell", "unknown")
MIB = 1 << 20

# The engine's blocks and the row, under KERNELS_CPU_UARCH=<row>, then one checked product per dtype
# with sizes past every block (several jc, pc and ic blocks, odd edges).
_PROBE = """
import json, numpy as np, hpc_kernels
from hpc_kernels._extension import cpu_extension
m, _ = cpu_extension()
i = m.info()
rng = np.random.default_rng(1)
err = {}
for dt in ("float32", "float64"):
    a = rng.integers(-3, 4, (301, 1100)).astype(dt); b = rng.integers(-3, 4, (1100, 1700)).astype(dt)
    ref = a.astype(np.float64) @ b.astype(np.float64)   # exact: integers, |sums| < 2**24
    err[dt] = float(np.abs(hpc_kernels.gemm(a, b) - ref).max())
    # A large product (a row's large-product blocks, where it has them): two k blocks of KC 2048,
    # C read and scaled by beta in the first.
    a = rng.integers(-3, 4, (1030, 2100)).astype(dt); b = rng.integers(-3, 4, (2100, 1050)).astype(dt)
    c = rng.integers(-3, 4, (1030, 1050)).astype(dt)
    ref = a.astype(np.float64) @ b.astype(np.float64) * 2 - c.astype(np.float64)
    err[dt + " large"] = float(np.abs(hpc_kernels.gemm(a, b, c.copy(), alpha=2.0, beta=-1.0) - ref).max())
print(json.dumps({"uarch": i["uarch"], "cpuid": i["cpuid"], "caches": i["cache_bytes"],
                  "f32": i["float32"]["candidates"], "f64": i["float64"]["candidates"], "err": err}))
"""


def probe(row: str) -> dict:
    r = python_code(_PROBE, {"KERNELS_CPU_UARCH": row, "KERNELS_NUM_THREADS": "2"})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_info_names_the_detected_row_and_cpuid():
    i = _cpu.info()
    u, cid = i["uarch"], i["cpuid"]
    assert u["name"] in ROWS and u["detected"] in ROWS and u["provenance"] and u["description"]
    assert u["grid_stream_weight"] > 0
    if platform.machine() in ("x86_64", "AMD64"):
        assert cid["vendor"] in ("AuthenticAMD", "GenuineIntel", "HygonGenuine") or cid["vendor"]


@pytest.mark.skipif(platform.system() != "Linux" or platform.machine() != "x86_64", reason="reads /proc/cpuinfo of x86")
def test_cpuid_decoding_matches_proc_cpuinfo():
    fields = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if not line.strip():
                break  # the first processor only
            k, _, v = line.partition(":")
            fields[k.strip()] = v.strip()
    cid = _cpu.info()["cpuid"]
    assert cid["vendor"] == fields["vendor_id"]
    assert cid["family"] == int(fields["cpu family"])
    assert cid["model"] == int(fields["model"])


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the x86 rows")
def test_detected_row_follows_the_vendor_and_family():
    cid, name = _cpu.info()["cpuid"], _cpu.info()["uarch"]["detected"]
    if cid["vendor"] == "AuthenticAMD" and cid["family"] == 0x1A:
        assert name == "zen5"
    elif cid["vendor"] == "AuthenticAMD" and cid["family"] == 0x17:
        assert name == "zen2"
    elif cid["vendor"] == "AuthenticAMD" and cid["family"] == 0x19:
        assert name == ("zen4" if (0x10 <= cid["model"] <= 0x1F or 0x60 <= cid["model"] <= 0x7F
                                   or 0xA0 <= cid["model"] <= 0xAF) else "zen3")
    elif cid["vendor"] == "GenuineIntel" and cid["model"] in (0x8F, 0xCF, 0xAD, 0xAE):
        assert name == "spr"


@pytest.mark.parametrize("row", ROWS)
def test_every_row_configures_and_computes_exactly(row):
    p = probe(row)
    assert p["uarch"]["name"] == row
    assert p["err"] == {"float32": 0.0, "float64": 0.0, "float32 large": 0.0, "float64 large": 0.0}
    for cands, size in ((p["f32"], 4), (p["f64"], 8)):
        for c in cands:
            assert c["mc"] % c["mr"] == 0 and c["nc"] % c["nr"] == 0 and c["kc"] >= 1
            assert 0 < c["efficiency"] <= 1


@pytest.mark.skipif("avx512" not in _cpu.info()["isas_supported"], reason="the zen rows' AVX-512 rule")
def test_zen_rows_bound_the_packed_b_block_and_spr_does_not():
    """The Zen rows keep the KC x NC block of B within 3 MiB (measured on Zen 5: an 8 MiB block ran
    dgemm at 80 GFLOP/s, 3 MiB at 119), whatever L3 sysfs reports; the SPR row bounds NC only."""
    for row in ("zen5", "zen4"):
        for c, size in [(c, 4) for c in probe(row)["f32"]] + [(c, 8) for c in probe(row)["f64"]]:
            if c["isa"] == "avx512":
                assert c["kc"] * c["nc"] * size <= 3 * MIB, (row, c)
    spr = probe("spr")
    l3 = spr["caches"]["l3"]
    for c in spr["f64"]:
        if c["isa"] == "avx512":
            assert c["nc"] <= 2048
            if l3 // 4 >= 2048 * c["kc"] * 8:  # a large reported L3: NC reaches its cap
                assert c["nc"] > 2048 - c["nr"]


@pytest.mark.skipif("avx512" not in _cpu.info()["isas_supported"], reason="the zen4 row's AVX-512 kernels")
def test_large_product_blocks_are_the_zen4_rows_alone():
    """Zen 4 runs products whose C has both sides >= 1024 on KC 2048, MC 128, NC 2048 (arch/uarch.cpp:
    measured there, float64 2048^3 53.3 -> 55.0 GFLOP/s); no other row has such blocks, and blocks
    given by configure() or the tuner apply to every product."""
    for c in probe("zen4")["f32"] + probe("zen4")["f64"]:
        if c["isa"] == "avx512":
            assert c["large"] == {"min_mn": 1024, "mc": 128, "kc": 2048, "nc": 2048 // c["nr"] * c["nr"]}, c
        else:
            assert "large" not in c
    for row in ("zen5", "spr", "unknown"):
        assert all("large" not in c for c in probe(row)["f64"]), row
    r = python_code(_PROBE, {"KERNELS_CPU_UARCH": "zen4", "KERNELS_CPU_KC": "256"})
    assert r.returncode == 0, r.stderr
    assert all("large" not in c for c in json.loads(r.stdout.strip().splitlines()[-1])["f64"])


def test_unknown_row_name_is_a_clear_error():
    r = python_code("import numpy as np, hpc_kernels; hpc_kernels.gemm(np.ones((2, 2)), np.ones((2, 2)))",
                    {"KERNELS_CPU_UARCH": "zen9"})
    assert r.returncode != 0
    assert "KERNELS_CPU_UARCH: unknown microarchitecture 'zen9'; allowed: auto, zen5" in r.stderr


def test_info_text_shows_the_row():
    r = python_code("from hpc_kernels.info import format_info, info; print(format_info(info()))",
                    {"KERNELS_CPU_UARCH": "zen4"})
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("uarch:"))
    assert "zen4: AMD Zen 4" in line
    if _cpu.info()["uarch"]["detected"] != "zen4":
        assert "forced by KERNELS_CPU_UARCH" in line
