"""opencl backend errors (TypeError / ValueError naming what is wrong and what is allowed), the
fp64 refusal of devices without it, device choice, and program binaries (save a built program's
binary, reload it through clCreateProgramWithBinary, in process and via KERNELS_OPENCL_BINARY)."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels
from _helpers import python_code
from _opencl import device, requires_opencl, to_dev
from hpc_kernels.backends.opencl import use_form

pytestmark = requires_opencl


def test_errors_host_and_device():
    import pyopencl.array as cla

    f32, f64 = np.ones((4, 3), np.float32), np.ones((3, 5), np.float64)
    with pytest.raises(TypeError, match="same dtype"):
        hpc_kernels.gemm(f32, f64, backend="opencl")
    with pytest.raises(TypeError, match="allowed dtypes are float32 and float64"):
        hpc_kernels.gemm(np.ones((2, 2), np.int32), np.ones((2, 2), np.int32), backend="opencl")
    with pytest.raises(ValueError, match=r"do not agree"):
        hpc_kernels.gemm(to_dev(f32), to_dev(f32))
    with pytest.raises(TypeError, match="both be pyopencl arrays"):
        hpc_kernels.gemm(to_dev(f32), np.ones((3, 2), np.float32))
    a, b = to_dev(f32), to_dev(np.ones((3, 5), np.float32))
    with pytest.raises(TypeError, match="outputs are never cast"):
        hpc_kernels.gemm(a, b, out=cla.empty(device().queue, (4, 5), np.float64))
    with pytest.raises(ValueError, match=r"has shape \(5, 4\), expected \(4, 5\)"):
        hpc_kernels.gemm(a, b, out=cla.empty(device().queue, (5, 4), np.float32))
    with pytest.raises(TypeError, match="must be a pyopencl.array.Array"):
        hpc_kernels.gemm(a, b, out=np.empty((4, 5), np.float32))
    with pytest.raises(ValueError, match="beta != 0 needs an input c"):
        hpc_kernels.gemm(a, b, beta=1.0)
    big = to_dev(np.ones((4, 8), np.float32))
    with pytest.raises(ValueError, match="shares memory with a"):
        hpc_kernels.gemm(big[:, :3], b, out=big[:, 3:8])
    cbig = to_dev(np.ones((4, 9), np.float32))
    with pytest.raises(ValueError, match="shares memory with c"):
        hpc_kernels.gemm(a, b, cbig[:, :5], beta=1.0, out=cbig[:, 4:9])
    ro = np.empty((4, 5), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        hpc_kernels.gemm(f32, np.ones((3, 5), np.float32), out=ro, backend="opencl")
    with pytest.raises(ValueError, match="at least 2-D"):
        hpc_kernels.matmul(to_dev(np.ones(3, np.float32)), to_dev(np.ones((3, 2), np.float32)))


def test_conv_errors():
    x, w = to_dev(np.ones((1, 2, 5, 5), np.float32)), to_dev(np.ones((3, 2, 3, 3), np.float32))
    import pyopencl.array as cla

    q = device().queue
    with pytest.raises(ValueError, match=r"out has shape"):
        hpc_kernels.conv2d(x, w, out=cla.empty(q, (1, 3, 4, 4), np.float32))
    with pytest.raises(TypeError, match="outputs are never cast"):
        hpc_kernels.conv2d(x, w, out=cla.empty(q, (1, 3, 3, 3), np.float64))
    with pytest.raises(ValueError, match="H and W dimensions contiguous"):
        hpc_kernels.conv2d(x, w, out=cla.empty(q, (1, 3, 6, 3), np.float32)[:, :, ::2, :])
    with pytest.raises(ValueError, match="must be C-contiguous"):
        hpc_kernels.conv2d(x, to_dev(np.ones((2, 3, 3, 3), np.float32)).transpose((1, 0, 2, 3)))
    with pytest.raises(TypeError, match="bias has dtype float64"):
        hpc_kernels.conv2d(x, w, to_dev(np.ones(3, np.float64)))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        hpc_kernels.conv2d(x, w, to_dev(np.ones(4, np.float32)))
    with pytest.raises(ValueError, match="form must be one of"):
        with use_form("systolic"):
            pass


def test_fp64_declined_clearly(monkeypatch):
    """A device without cl_khr_fp64 declines float64 with an error that says so."""
    dev = device()
    monkeypatch.setattr(dev, "fp64", False)
    a = np.ones((3, 3))
    for call in (lambda: hpc_kernels.gemm(a, a, backend="opencl"),
                 lambda: hpc_kernels.matmul(a, a, backend="opencl"),
                 lambda: hpc_kernels.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)), backend="opencl")):
        with pytest.raises(TypeError, match="does not support float64"):
            call()


def test_device_selector_errors():
    from hpc_kernels.backends.opencl import runtime as rt

    with pytest.raises(ValueError, match="matches no OpenCL device; devices: 0:0"):
        rt._by_selector("no-such-device-xyz")
    with pytest.raises(ValueError, match="no device 9 on platform 0"):
        rt._by_selector("0:9")
    assert rt._by_selector("0:0").int_ptr == rt.cl.get_platforms()[0].get_devices()[0].int_ptr


def test_binary_save_and_reload(tmp_path, rng):
    """Save the FPGA-form program's device binary, load it back with clCreateProgramWithBinary,
    run its kernels; then a fresh process with KERNELS_OPENCL_BINARY runs gemm and conv2d from it."""
    from hpc_kernels.backends.opencl import launch as L
    from hpc_kernels.backends.opencl import runtime as rt
    from hpc_kernels.backends.opencl import tiles

    dev = device()
    defines = {"REAL": "float", "REAL_IS_DOUBLE": 0, **tiles.FPGA["float32"]}
    path = rt.save_binary(dev, "fpga", defines, str(tmp_path / "fpga.bin"))
    loaded = rt.load_binary(dev, str(path))
    assert loaded["defines"] == defines
    a, b = rng.integers(-3, 4, (20, 30)).astype(np.float32), rng.integers(-3, 4, (30, 17)).astype(np.float32)
    ad, bd, cd = to_dev(a), to_dev(b), to_dev(np.zeros((20, 17), np.float32))
    op = L.Operand.of
    g = L.Gemm(20, 17, 30, 1.0, 0.0, op(ad), op(bd), op(cd), op(cd))
    (rs_a, cs_a), (rs_b, cs_b) = g.a.strides, g.b.strides
    i32, i64 = np.int32, np.int64
    loaded["program"].gemm_fpga(dev.queue, (1,), (1,), i32(20), i32(17), i32(30), np.float32(1), np.float32(0), ad.base_data,
                                i64(0), i64(rs_a), i64(cs_a), bd.base_data, i64(0), i64(rs_b), i64(cs_b), *g.c_args())
    np.testing.assert_array_equal(cd.get(), a.astype(np.float64) @ b)
    with pytest.raises(RuntimeError, match="rejected the program binary"):
        (tmp_path / "junk.bin").write_bytes(b"not a binary")
        rt.load_binary(dev, str(tmp_path / "junk.bin"))
    code = (
        "import numpy as np, hpc_kernels\n"
        "from hpc_kernels.backends import opencl\n"
        "from hpc_kernels.backends.opencl import runtime as rt\n"
        "a = np.arange(12, dtype=np.float32).reshape(3, 4); b = np.ones((4, 2), np.float32)\n"
        "assert np.array_equal(hpc_kernels.gemm(a, b, backend='opencl'), a @ b)\n"
        "x = np.ones((1, 2, 4, 4), np.float32); w = np.ones((3, 2, 3, 3), np.float32)\n"
        "y = hpc_kernels.conv2d(x, w, padding=1, backend='opencl')\n"
        "assert y[0, 0, 1, 1] == 18 and y[0, 0, 0, 0] == 8\n"
        "assert rt._binary['default']['path'].endswith('fpga.bin')\n"
        "print('binary ok')\n"
    )
    proc = python_code(code, {"KERNELS_OPENCL_BINARY": str(path)})
    assert proc.returncode == 0 and "binary ok" in proc.stdout, proc.stderr[-2000:]


def test_info_lists_opencl():
    d = hpc_kernels.info()
    o = d["backends"]["opencl"]
    assert o["available"]
    assert o["devices"] and {"name", "platform", "fp64", "tiles"} <= set(o["devices"][0])


def test_probe_reports_the_build_error(monkeypatch):
    """A device's compiler that rejects the probe program is reported with the error line of its
    build log and the device's name and driver (what the backend says when it is unavailable)."""
    from hpc_kernels.backends.opencl import runtime as rt

    dev = device()
    assert rt.build_problem(dev.device, dev.context) is None  # the chosen device builds
    monkeypatch.setattr(rt, "_probes", {})
    monkeypatch.setattr(rt, "PROBE_SOURCE", "__kernel void kernels_probe(__global float *x) { x[0] = no_such_name; }")
    problem = rt.build_problem(dev.device, dev.context)
    assert problem is not None and "error" in problem.lower() and "no_such_name" in problem, problem
    text = rt.cannot_build_text(dev.device, problem)
    assert text.startswith(f"the OpenCL device {dev.name!r} (") and dev.device.platform.version.strip() in text and text.endswith(problem)


def test_default_device_passes_over_devices_that_cannot_build(monkeypatch, caplog):
    """Without a selector the default device is the first that builds the probe program: devices
    whose build fails (PoCL 3.0 on a CPU its LLVM does not know) are passed over with a warning;
    when none builds, the backend is unavailable and says why for each device."""
    import dataclasses

    from hpc_kernels.backends.opencl import runtime as rt

    monkeypatch.setattr(rt, "config", dataclasses.replace(rt.config, opencl_device=None))
    monkeypatch.delenv("PYOPENCL_CTX", raising=False)
    good = device().device  # a device that builds; the platforms listed in reverse put it last
    platforms = rt.cl.get_platforms()[::-1]
    monkeypatch.setattr(rt.cl, "get_platforms", lambda: platforms)
    accel = rt.cl.device_type.GPU | rt.cl.device_type.ACCELERATOR
    devs = [d for p in platforms for d in p.get_devices()]
    order = [d for d in devs if d.type & accel] + [d for d in devs if not d.type & accel]
    before = order[:[d.int_ptr for d in order].index(good.int_ptr)]
    problem = "error: unknown target CPU 'generic'"
    # Every device but `good` fails to build: the ones before it are passed over, it is chosen.
    monkeypatch.setattr(rt, "_probes", {d.int_ptr: problem for d in order if d.int_ptr != good.int_ptr})
    monkeypatch.setattr(rt, "_device", None)
    with caplog.at_level("WARNING", logger="hpc_kernels"):
        chosen = rt.default_device()
    assert chosen.device.int_ptr == good.int_ptr
    passed = [r.getMessage() for r in caplog.records if "passed over" in r.getMessage()]
    assert len(passed) == len(before) and all(problem in m and repr(d.name.strip()) in m for m, d in zip(passed, before)), passed
    # None builds: no default device, and the availability check says why, device by device.
    monkeypatch.setattr(rt, "_probes", {d.int_ptr: problem for d in order})
    monkeypatch.setattr(rt, "_device", None)
    available, reason = rt.platforms_available()
    assert not available and reason.count(f"cannot build programs: {problem}") == len(order), reason
    assert all(repr(d.name.strip()) in reason for d in order)
