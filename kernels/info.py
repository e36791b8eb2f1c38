"""`hpc_kernels.info()` (a dict that prints as text), `show_config()`, and the text form shared with
`python -m hpc_kernels info`."""
from __future__ import annotations

import platform
from typing import Any, Dict

from . import _dispatch
from ._config import ENV_VARS
from ._cpu_features import cpu_model
from ._extension import cpu_extension
from ._threads import get_num_threads
from ._version import __version__


class Info(dict):
    """info()'s result: a plain dict for programs (json.dumps, indexing, pickling) whose str() is the
    text of `python -m hpc_kernels info`, so `print(hpc_kernels.info())` reads like NumPy's
    show_config() instead of a 3 KB one-line dict. repr() stays the dict's (debuggers, logs)."""

    def __str__(self) -> str:
        return format_info(self)


def show_config() -> None:
    """Print what `python -m hpc_kernels info` prints (as numpy.show_config / scipy.show_config do)."""
    print(info())


def info() -> Info:
    """Version, cpu engine (ISAs built / chosen, micro-kernel and block sizes per dtype), threads,
    and every registered backend with the reason it is or is not available (this loads every
    backend and the C++ extension, and compiles nothing). A dict; print() shows it as text."""
    _cpu, _ = cpu_extension()
    backends = {}
    for name in _dispatch.backend_names():
        try:
            backends[name] = _dispatch._load(name).describe()
        except ImportError as exc:  # a backend module that cannot even be imported
            backends[name] = {"name": name, "available": False, "reason": str(exc)}
    return Info({
        "version": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": cpu_model(),
        "num_threads": get_num_threads(),
        "cpu_engine": _cpu.info() if _cpu is not None else None,
        "backends": backends,
        "tuning_cache": _tuning_info(),
    })


def _tuning_info() -> Dict[str, Any]:
    """The tuning store: its file, schema, tuned values per backend and op, and why a file was not read."""
    from . import _tuning

    st = _tuning.store()
    entries = st.summary()
    return {"path": str(st.path), "exists": st.path.exists(), "schema": _tuning.SCHEMA, "entries": entries,
            "notes": list(st.notes)}


def _device_line(dev: Dict[str, Any]) -> str:
    """One OpenCL device of the opencl backend: fp64, and the tiles its kernels use."""
    tiles = "; ".join(
        f"{dt} {t['ndrange']['MWI']}x{t['ndrange']['VW'] * t['ndrange']['NVEC']} per item, group "
        f"{t['ndrange']['WGM']}x{t['ndrange']['WGN']}{', local B' if t['ndrange']['SB'] else ''} "
        f"({'tuned' if t['tuned'] else 'default'}), fpga {t['fpga']['TM']}x{t['fpga']['TN']}x{t['fpga']['TK']}"
        for dt, t in dev["tiles"].items()
    )
    return (f"    {'*' if dev['chosen'] else ' '} {dev['platform']} / {dev['name']} ({dev['type']}, {dev['compute_units']} CU, "
            f"fp64 {'yes' if dev['fp64'] else 'no'}, form {dev['form']}): {tiles}")


def _kernels_line(k: Dict[str, Any]) -> str:
    """The numba backend's kernels: compiled here, in the disk cache, or not compiled yet."""
    parts = []
    if k["in_memory"]:
        parts.append(f"{k['in_memory']} compiled in this process")
    if k["on_disk"]:
        parts.append(f"{k['on_disk']} in the kernel cache (load in under a second)")
    if k["not_compiled"]:
        parts.append(f"{k['not_compiled']} not compiled yet (the first calls compile them: about {k['cold_compile_s']} s "
                     "for every kernel and both dtypes)")
    return f"kernels: {', '.join(parts) or 'none'}; cache {k['cache_dir']}"


def gemm_source_text(engine: Dict[str, Any]) -> str:
    """Where one dtype's GEMM kernel and block sizes came from (the cpu engine's info()[dtype]["source"]):
    derived from the caches, tuned (the tuning store, `tune gemm --backend cpu`), env (KERNELS_CPU_*), ..."""
    src = engine["source"]
    if all(v == "derived" for v in src.values()):
        return "GEMM parameters: derived (cache model, kernel picked per shape; not tuned)"
    parts = [f"kernel {engine['ukernel']} ({src['ukernel']})" if src["ukernel"] != "derived" else "kernel picked per shape"]
    parts += [f"{f.upper()}={engine[f]} ({src[f]})" if src[f] != "derived" else f"{f.upper()} derived" for f in ("mc", "kc", "nc")]
    tuned = any(v == "tuned" for v in src.values())
    return f"GEMM parameters: {'tuned' if tuned else 'set'}: {', '.join(parts)}"


def format_info(d: Dict[str, Any]) -> str:
    lines = [
        f"hpc-kernels {d['version']} (Python {d['python']}, {d['machine']})",
        f"processor:   {d['processor']}",
        f"threads:     {d['num_threads']}",
    ]
    e = d["cpu_engine"]
    if e:
        kib = {k: v // 1024 for k, v in e["cache_bytes"].items()}
        lines += [
            f"cpu ISAs:    built {', '.join(e['isas_built'])}; CPU runs {', '.join(e['isas_supported'])}; cap {e['isa_cap']}",
            f"caches:      L1d {kib['l1d']} KiB, L2 {kib['l2']} KiB, L3 {kib['l3']} KiB",
        ]
        u, cid = e.get("uarch"), e.get("cpuid")
        if u and cid:  # the microarchitecture row whose defaults the engine uses (csrc/arch/uarch.cpp)
            forced = "" if u["name"] == u["detected"] else f", forced by KERNELS_CPU_UARCH (detected: {u['detected']})"
            lines += [
                f"uarch:       {u['name']}: {u['description']} [{cid['vendor'] or 'no CPUID'} family {cid['family']:#x} "
                f"model {cid['model']:#x}{forced}]",
                f"             defaults {u['provenance']}",
            ]
        lines += [
            f"openmp:      {e['openmp']}   compiler: {e['compiler']}",
        ]
        for dt in ("float32", "float64"):
            for i, k in enumerate(e[dt]["candidates"]):  # the driver picks one per problem shape
                lines.append(
                    f"{dt + ':' if i == 0 else '':<13}{k['ukernel']} (MR={k['mr']}, NR={k['nr']}, "
                    f"efficiency {k['efficiency']:.2f}) MC={k['mc']} KC={k['kc']} NC={k['nc']}"
                    + (f"; products of both sides >= {k['large']['min_mn']}: MC={k['large']['mc']} KC={k['large']['kc']} "
                       f"NC={k['large']['nc']}" if "large" in k else "")
                )
            if e[dt].get("source"):
                lines.append(f"{'':<13}{gemm_source_text(e[dt])}")
    lines.append("backends:")
    for name, b in d["backends"].items():
        mark = "yes" if b["available"] else "no "
        lines.append(f"  {name:<10} {mark}  {b['reason']}")
        lines += [_device_line(dev) for dev in b.get("devices", [])]
        if b["available"] and b.get("algorithms"):  # what each backend implements, and its own "auto"
            lines.append(f"             conv2d algorithms: {', '.join(b['algorithms'])}; auto: {b['auto']}")
        if b.get("kernels"):  # numba: compiled on first use (cold cache) or loaded from disk; info() compiles nothing
            lines.append(f"             {_kernels_line(b['kernels'])}")
    t = d["tuning_cache"]
    tuned = "; ".join(f"{b}: " + ", ".join(f"{n} {op}" for op, n in ops.items()) for b, ops in t["entries"].items())
    lines.append(f"tuning store: {t['path']} (schema {t['schema']}; "
                 + (f"tuned values {tuned})" if tuned else "nothing tuned yet: python -m hpc_kernels tune --backend cpu|numba|opencl|cuda)"))
    lines += [f"  note: {n}" for n in t["notes"]]
    lines.append("environment variables:")
    lines += [f"  {k:<20} {v}" for k, v in ENV_VARS.items()]
    return "\n".join(lines)
