"""`import hpc_kernels` loads no backend and not the C++ extension hpc_kernels._cpu; the first call that
needs the engine does, and what was set before (thread count, KERNELS_CPU_* variables) reaches it."""
from __future__ import annotations

import json

from _helpers import python_code

LOADED = ("import json, sys\n"
          "def loaded():\n"
          "    return sorted(m for m in sys.modules if m == 'hpc_kernels._cpu' or m.startswith('hpc_kernels.backends.')\n"
          "                  or m in ('numba', 'pyopencl', 'cupy'))\n")


def _last_json(p):
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_import_loads_no_backend_and_not_the_extension():
    p = python_code(LOADED + "import hpc_kernels\nprint(json.dumps(loaded()))")
    assert _last_json(p) == []


def test_the_first_cpu_call_loads_the_extension_with_the_count_set_before():
    code = LOADED + (
        "import numpy as np, hpc_kernels\n"
        "hpc_kernels.set_num_threads(1)\n"
        "before = loaded()\n"
        "a = np.ones((4, 4))\n"
        "assert (hpc_kernels.gemm(a, a) == 4).all()\n"
        "from hpc_kernels import _cpu\n"
        "print(json.dumps([before, 'hpc_kernels._cpu' in loaded(), _cpu.get_num_threads(), hpc_kernels.get_num_threads(),\n"
        "                  _cpu.info()['isa_cap'], _cpu.info()['float64']['kc']]))"
    )
    before, after, pool, count, cap, kc = _last_json(python_code(code, {"KERNELS_CPU_ISA": "generic", "KERNELS_CPU_KC": "48"}))
    assert before == [] and after
    assert pool == count == 1
    assert cap == "generic" and kc == 48


def test_env_thread_count_reaches_the_pool_when_it_loads():
    code = "import json, hpc_kernels\nn = hpc_kernels.get_num_threads()\nfrom hpc_kernels import _extension\nm, _ = _extension.cpu_extension()\nprint(json.dumps([n, m.get_num_threads(), hpc_kernels.get_num_threads()]))"
    assert _last_json(python_code(code, {"KERNELS_NUM_THREADS": "2"})) == [2, 2, 2]
    assert _last_json(python_code(code, {"OMP_NUM_THREADS": "3"})) == [3, 3, 3]


def test_bad_isa_cap_fails_the_first_cpu_call_not_the_import():
    """KERNELS_CPU_ISA is checked against the engine's own table, which loads with the engine."""
    p = python_code("import hpc_kernels\nprint('imported')", {"KERNELS_CPU_ISA": "sse9"})
    assert p.returncode == 0 and "imported" in p.stdout, p.stderr
    p = python_code("import numpy as np, hpc_kernels\nhpc_kernels.gemm(np.ones((2, 2)), np.ones((2, 2)))", {"KERNELS_CPU_ISA": "sse9"})
    assert p.returncode != 0 and "ValueError: KERNELS_CPU_ISA" in p.stderr
