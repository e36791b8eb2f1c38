// hpc_kernels._cpu.conv2d_chain: a sequence of packed convolutions in one call (the ONNX runtime's
// chains of FusedConv nodes, with the relayout, pooling and GEMM steps around them: chain_ops.hpp),
// runs of convolutions banded where their intermediates outgrow L2.
//
// Step i is the tuple (weights, x index, out index, residual index or -1, stride, padding,
// dilation, algorithm) into `arrays`, or an op step (kind, x index, out index, parameters...), or
// an int8 convolution ("qconv", x index, out index, skip index or -1, parameters: qconv_entry.hpp). Each
// step is checked exactly as conv2d_packed (or the op's entry) checks it, just before it runs (its
// x may be an earlier step's out). What a chain saves is the Python between the steps, whose code
// and objects the convolutions evict from the caches (measured 20-50 us per small op inside
// MobileNetV2, 2.5 us alone). Where consecutive NHWC steps each read only the step before
// (an inverted-residual block: expand, depthwise, project) and an intermediate of one image is
// larger than the band budget (band_bytes; KERNELS_CONV_BAND_BYTES through the Python layer), they
// run banded (conv/conv_band.hpp): their intermediate arrays are then not written at all (no other
// step reads them).
//
// hpc_kernels._cpu.ChainProgram is the same with the steps parsed once and each convolution's
// checks kept from run to run while the arrays it reads and writes are the same memory in the same
// shapes (ArrayKey): the ONNX runtime builds one per chain and input shape, whose intermediates
// are the same views run after run. The checks (pybind casts of the step's tuple, the geometry,
// the overlap tests) cost ~1 us a step warm and several times that with the caches a network
// leaves behind. conv2d_chain is a program built and run once.
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "../core/cpu_info.hpp"
#include "../core/engine.hpp"
#include "../core/threads.hpp"
#include "chain_ops.hpp"
#include "conv_entry.hpp"
#include "conv_plan.hpp"
#include "qconv_entry.hpp"

namespace kernels {

namespace {

// What a step is: a float convolution, an int8 one or a quantized GEMM (qconv_entry.hpp), or
// another op (chain_ops.hpp).
enum class StepKind { conv, qconv, qgemm, op };

struct StepRefs {
    const ConvWeights* cw;       // nullptr: not a float convolution
    py::tuple args;              // a conv's stride, padding, dilation, algorithm at 4..7; an op's whole tuple
    py::ssize_t xi, oi, ri;      // indices into arrays (ri < 0: no residual / skip tensor)
    StepKind kind;
};

// What a step's checks depend on in one array: its memory, shape, strides, type and writability.
// Two arrays with equal keys pass or fail every check alike (pointers compared, never followed).
struct ArrayKey {
    const void* data = nullptr;
    py::ssize_t ndim = -1;  // kNoArray, kNotKept
    std::array<py::ssize_t, 4> shape{}, strides{};
    int type = -1;
    bool writeable = false;

    bool operator==(const ArrayKey& o) const {
        return data == o.data && ndim == o.ndim && shape == o.shape && strides == o.strides && type == o.type &&
               writeable == o.writeable;
    }
};

// ndim of the key of None, and of an array no memo keeps (more than 4 dimensions).
constexpr py::ssize_t kNoArray = -1, kNotKept = -2;

// The key of an array of up to 4 dimensions, or of None.
ArrayKey key_of(const py::object& o) {
    ArrayKey k;
    if (o.is_none()) return k;
    const auto a = py::reinterpret_borrow<py::array>(o);
    if (a.ndim() > 4) {
        k.ndim = kNotKept;
        return k;
    }
    k.data = a.data(), k.ndim = a.ndim(), k.type = a.dtype().num(), k.writeable = a.writeable();
    for (py::ssize_t d = 0; d < a.ndim(); ++d) k.shape[d] = a.shape(d), k.strides[d] = a.strides(d);
    return k;
}

// One step's checked call from an earlier run, and the arrays it was checked with.
struct Memo {
    std::array<ArrayKey, 3> keys;  // x, out, residual / skip
    bool valid = false;
    PackedCall conv;                         // a float convolution's
    std::shared_ptr<const QConvCall> q;      // an int8 convolution's or a qgemm's
};

// Band budget per thread in bytes: the caller's (0: never band), or when negative half the core's
// L2, where a band's intermediates stay while the next layer reads them.
std::size_t band_budget(long long requested) {
    if (requested >= 0) return static_cast<std::size_t>(requested);
    const std::size_t l2 = cache_sizes().l2;
    return (l2 ? l2 : (1u << 20)) / 2;
}

// Runs steps [j, k] banded (validated calls `calls`, all of dtype T).
template <typename T>
void run_banded(const std::vector<const ConvWeights*>& cws, const std::vector<PackedCall>& calls, std::size_t budget) {
    std::vector<BandStep<T>> steps;
    steps.reserve(calls.size());
    for (std::size_t i = 0; i < calls.size(); ++i) steps.push_back(band_step<T>(*cws[i], calls[i]));
    const PackedCall& first = calls.front();
    const PackedCall& last = calls.back();
    const T* x = static_cast<const T*>(first.x.data());
    const Strides4 xs = strides4(first.x, true, "x");
    T* y = static_cast<T*>(const_cast<void*>(last.out.data()));
    const Strides4 ys = pixel_strides4(last.out, last.g, "out");
    const int nt = num_threads();  // the calling thread's ICV
    const Engine<T>& e = engine<T>();
    py::gil_scoped_release nogil;
    conv_band_chain<T>(steps, x, xs, y, ys, e, nt, budget);
}

class ChainProgram {
public:
    // n_inputs: the chain's external inputs, the first arrays of each run. A step that reads them
    // or writes the last array (the chain's output) keeps no checks: kept checks hold the arrays
    // they were made with, and those are the caller's (its last input and output would stay alive
    // until the next run); a chain's first and last steps are one op or convolution each.
    explicit ChainProgram(const py::list& steps_obj, py::ssize_t n_inputs = 0) : n_external_(n_inputs) {
        refs_.reserve(steps_obj.size());
        for (const py::handle step : steps_obj) {
            if (!py::isinstance<py::tuple>(step)) throw py::type_error("conv2d_chain: each step must be a tuple");
            const auto t = py::reinterpret_borrow<py::tuple>(step);
            if (is_op_step(t)) {  // (a qconv step's fourth item is its skip tensor's index, read like a residual)
                const std::string name = t[0].cast<std::string>();
                const StepKind kind = name == "qconv" ? StepKind::qconv : name == "qgemm" ? StepKind::qgemm : StepKind::op;
                refs_.push_back(StepRefs{nullptr, t, t[1].cast<py::ssize_t>(), t[2].cast<py::ssize_t>(),
                                         kind == StepKind::qconv && t.size() > 3 ? t[3].cast<py::ssize_t>() : -1, kind});
                continue;
            }
            if (t.size() != 8) throw py::value_error("conv2d_chain: each step is (weights, x, out, residual, stride, padding, dilation, algorithm)");
            refs_.push_back(StepRefs{&t[0].cast<const ConvWeights&>(), t, t[1].cast<py::ssize_t>(), t[2].cast<py::ssize_t>(),
                                     t[3].cast<py::ssize_t>(), StepKind::conv});
        }
        memo_.resize(refs_.size());
    }

    // Runs every step on `arrays`; returns each step's seconds (a banded run's under its last step).
    // The checks kept from earlier runs are used by one thread at a time: a run that finds another
    // thread running the program checks every step itself.
    std::vector<double> run(const py::list& arrays, long long band_bytes) {
        std::unique_lock<std::mutex> own(mutex_, std::try_to_lock);
        return run_steps(arrays, band_bytes, own.owns_lock());
    }

    // The program's own arrays for direct runs: `arrays` as run() takes them, whose inputs (the
    // first n_inputs) and output (the last) give only the shapes and dtypes a direct run accepts
    // and makes (broadcast views will do); the intermediates between are the program's, used by one
    // direct run at a time.
    // Returns false (nothing bound) while another thread runs the program.
    bool bind(const py::list& arrays, py::ssize_t n_inputs, long long band_bytes) {
        const auto n = static_cast<py::ssize_t>(arrays.size());
        if (n_inputs < 1 || n_inputs >= n) throw py::value_error("ChainProgram.bind: need 1 <= n_inputs < len(arrays)");
        std::vector<py::array> like;
        for (py::ssize_t i = 0; i < n; ++i) {
            if (!py::isinstance<py::array>(arrays[static_cast<std::size_t>(i)]))
                throw py::type_error("ChainProgram.bind: arrays must be NumPy arrays");
            like.push_back(py::reinterpret_borrow<py::array>(arrays[static_cast<std::size_t>(i)]));
        }
        // (Never waits: a running thread needs the GIL this one holds to finish.)
        std::unique_lock<std::mutex> own(mutex_, std::try_to_lock);
        if (!own.owns_lock()) return false;
        bound_ = py::list(n);  // inputs and output None until a run puts its own there
        for (py::ssize_t i = n_inputs; i < n - 1; ++i) bound_[static_cast<std::size_t>(i)] = like[static_cast<std::size_t>(i)];
        in_like_.assign(like.begin(), like.begin() + n_inputs);
        n_inputs_ = n_inputs, band_bytes_ = band_bytes;
        const py::array& out = like.back();
        out_dtype_ = out.dtype();
        out_shape_.assign(out.shape(), out.shape() + out.ndim());
        return true;
    }

    // A direct run: `inputs` (the bound inputs' shapes and dtypes, C-contiguous NumPy arrays) into a
    // new output, on the bound intermediates, with `threads` threads (0: the calling thread's
    // count). Returns (output, seconds per step), or None where it does not apply: no binding,
    // other inputs, or another thread running the program (the caller then runs it on arrays of
    // its own).
    py::object run_direct(const py::list& inputs, int threads) {
        auto done = try_run(std::vector<py::handle>(inputs.begin(), inputs.end()), threads);
        if (!done) return py::none();
        return py::make_tuple(done->first, py::cast(done->second));
    }

    // The same for an InferenceSession's feed: {name: array}, the program's one input, run with
    // `threads` (0: the calling thread's count). Returns the output, or None where a direct run
    // does not apply (anything else in the feed included: the session's own path then checks it
    // and says what is wrong). The run's seconds are added into stats().
    py::object run_feed(const py::handle feed, const py::handle name, int threads) {
        if (n_inputs_ != 1 || !PyDict_CheckExact(feed.ptr()) || PyDict_Size(feed.ptr()) != 1) return py::none();
        PyObject* x = PyDict_GetItemWithError(feed.ptr(), name.ptr());  // borrowed
        if (x == nullptr) {
            PyErr_Clear();
            return py::none();
        }
        const auto t0 = std::chrono::steady_clock::now();
        auto done = try_run({py::handle(x)}, threads);
        if (!done) return py::none();
        const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        auto& [out, seconds] = *done;
        std::lock_guard<std::mutex> s(stats_mutex_);
        ++runs_, total_s_ += total;
        step_s_.resize(seconds.size(), 0.0);
        for (std::size_t i = 0; i < seconds.size(); ++i) step_s_[i] += seconds[i];
        return out;
    }

    // (runs, seconds, seconds per step) of the run_feed calls so far.
    py::tuple stats() {
        std::lock_guard<std::mutex> s(stats_mutex_);
        return py::make_tuple(runs_, total_s_, py::cast(step_s_));
    }

private:
    std::vector<StepRefs> refs_;
    std::vector<Memo> memo_;
    py::ssize_t n_external_;
    std::mutex mutex_;  // held by the run that keeps checks and by a direct run (its intermediates)
    // Direct runs: the arrays (inputs and output replaced per run), the output's form, the band.
    py::list bound_;
    std::vector<py::array> in_like_;  // the inputs' shapes and dtypes
    py::ssize_t n_inputs_ = 0;
    long long band_bytes_ = -1;
    py::dtype out_dtype_;
    std::vector<py::ssize_t> out_shape_;
    std::mutex stats_mutex_;
    long long runs_ = 0;
    double total_s_ = 0.0;
    std::vector<double> step_s_;

    // x is a C-contiguous NumPy array (not a subclass) of bound input i's shape and dtype.
    bool accepts(py::ssize_t i, const py::handle x) const {
        if (Py_TYPE(x.ptr()) != py::detail::npy_api::get().PyArray_Type_) return false;
        const auto a = py::reinterpret_borrow<py::array>(x);
        const py::array& like = in_like_[static_cast<std::size_t>(i)];
        if (!(a.flags() & py::array::c_style) || a.ndim() != like.ndim() || a.dtype().num() != like.dtype().num() ||
            a.dtype().byteorder() != like.dtype().byteorder())
            return false;
        for (py::ssize_t d = 0; d < a.ndim(); ++d)
            if (a.shape(d) != like.shape(d)) return false;
        return true;
    }

    // A direct run of `inputs` on bound_ into a new output: (output, seconds per step), or nothing
    // where nothing is bound, the inputs are not the bound ones' kind or another thread runs the
    // program.
    std::optional<std::pair<py::array, std::vector<double>>> try_run(const std::vector<py::handle>& inputs, int threads) {
        if (n_inputs_ == 0 || static_cast<py::ssize_t>(inputs.size()) != n_inputs_) return std::nullopt;
        for (py::ssize_t i = 0; i < n_inputs_; ++i)
            if (!accepts(i, inputs[static_cast<std::size_t>(i)])) return std::nullopt;
        std::unique_lock<std::mutex> own(mutex_, std::try_to_lock);
        if (!own.owns_lock()) return std::nullopt;
        for (py::ssize_t i = 0; i < n_inputs_; ++i)
            bound_[static_cast<std::size_t>(i)] = py::reinterpret_borrow<py::object>(inputs[static_cast<std::size_t>(i)]);
        py::array out(out_dtype_, out_shape_);
        const std::size_t last = bound_.size() - 1;
        bound_[last] = out;
        struct Restore {  // the inputs and output released, the thread count restored, whatever happens
            py::list& arrays;
            std::size_t n_inputs;
            int threads_before;
            ~Restore() {
                for (std::size_t i = 0; i < n_inputs; ++i) arrays[i] = py::none();
                arrays[arrays.size() - 1] = py::none();
                if (threads_before > 0) set_calling_thread_threads(threads_before);
            }
        } restore{bound_, static_cast<std::size_t>(n_inputs_), threads > 0 ? set_calling_thread_threads(threads) : 0};
        return std::make_pair(out, run_steps(bound_, band_bytes_, true));
    }

    std::vector<double> run_steps(const py::list& arrays, long long band_bytes, bool keep) {
        const auto n_arrays = static_cast<py::ssize_t>(arrays.size());
        // Never converted (a converted out would be a temporary copy): NumPy arrays only, as noconvert().
        auto array_at = [&](py::ssize_t i, const char* what) -> py::array {
            if (i < 0 || i >= n_arrays)
                throw py::value_error(std::string("conv2d_chain: ") + what + " index " + std::to_string(i) + " is not in [0, " +
                                      std::to_string(n_arrays) + ")");
            const py::handle a = arrays[static_cast<std::size_t>(i)];
            if (!py::isinstance<py::array>(a))
                throw py::type_error(std::string("conv2d_chain: ") + what + " must be a NumPy array, got " +
                                     std::string(py::str(py::type::handle_of(a).attr("__name__"))));
            return py::reinterpret_borrow<py::array>(a);
        };
        const std::size_t n = refs_.size();
        // How many steps read each array (as x or residual): an intermediate read once is private to
        // the step after it.
        std::vector<int> reads(static_cast<std::size_t>(std::max<py::ssize_t>(n_arrays, 0)), 0);
        for (const StepRefs& s : refs_)
            for (const py::ssize_t i : {s.xi, s.ri})
                if (i >= 0 && i < n_arrays) ++reads[static_cast<std::size_t>(i)];
        // Step i's arrays and its memo when it was checked with the same ones (nullptr: check it).
        auto arrays_of = [&](std::size_t i, const char* second) {
            const StepRefs& s = refs_[i];
            const py::array x = array_at(s.xi, "x"), out = array_at(s.oi, "out");
            const py::object r = s.ri < 0 ? py::object(py::none()) : py::object(array_at(s.ri, second));
            return std::make_tuple(x, out, r);
        };
        auto memo_for = [&](std::size_t i, const py::array& x, const py::array& out, const py::object& r) -> Memo* {
            if (!keep) return nullptr;
            Memo& m = memo_[i];
            const std::array<ArrayKey, 3> keys{key_of(x), key_of(out), key_of(r)};
            if (m.valid && m.keys == keys) return &m;
            m.valid = false;
            m.keys = keys;
            return nullptr;  // (a key kNotKept leaves the memo invalid: see keeps)
        };
        auto keeps = [&](std::size_t i) {
            const StepRefs& s = refs_[i];
            const auto external = [&](py::ssize_t a) { return a >= 0 && (a < n_external_ || a == n_arrays - 1); };
            return keep && !external(s.xi) && !external(s.oi) && !external(s.ri) &&
                   std::none_of(memo_[i].keys.begin(), memo_[i].keys.end(), [](const ArrayKey& k) { return k.ndim == kNotKept; });
        };
        auto check = [&](std::size_t i) -> PackedCall {
            const StepRefs& s = refs_[i];
            const auto [x, out, r] = arrays_of(i, "residual");
            if (const Memo* m = memo_for(i, x, out, r)) return m->conv;
            PackedCall c = check_packed_call(*s.cw, x, out, s.args[4], s.args[5], s.args[6], s.args[7].cast<std::string>(), r);
            // Kept only where it holds the caller's arrays themselves (not an aligned copy of x or
            // of the residual, whose contents are this run's).
            if (keeps(i) && c.x.is(x) && (r.is_none() || c.residual.is(r))) memo_[i].conv = c, memo_[i].valid = true;
            return c;
        };
        auto check_q = [&](std::size_t i) -> std::shared_ptr<const QConvCall> {
            const StepRefs& s = refs_[i];
            const auto [x, out, r] = arrays_of(i, "skip");
            if (const Memo* m = memo_for(i, x, out, r)) return m->q;
            auto c = s.kind == StepKind::qconv ? check_qconv_step(s.args, x, out, r) : check_qgemm_step(s.args, x, out);
            if (keeps(i)) memo_[i].q = c, memo_[i].valid = true;
            return c;
        };
        const std::size_t budget = band_budget(band_bytes);
        std::vector<double> seconds(n, 0.0);
        for (std::size_t j = 0; j < n;) {
            const auto t0 = std::chrono::steady_clock::now();
            if (refs_[j].cw == nullptr) {
                const StepRefs& r = refs_[j];
                if (r.kind == StepKind::op) run_op_step(r.args, array_at(r.xi, "x"), array_at(r.oi, "out"));
                else run_qconv_call(*check_q(j));
                seconds[j] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                ++j;
                continue;
            }
            // The longest run from j by the indices alone (a step reading only the previous step's
            // output, which nothing else reads; one dtype; no residual made inside the run), and its
            // largest intermediate per image from the arrays' sizes: checking the steps of a run that
            // will not be banded would check them twice.
            std::size_t end = j + 1, largest = 0;
            for (std::size_t k = j + 1; budget > 0 && k < n; ++k) {
                const StepRefs& prev = refs_[k - 1];
                const StepRefs& s = refs_[k];
                if (s.cw == nullptr || s.xi != prev.oi || prev.oi < 0 || prev.oi >= n_arrays ||
                    reads[static_cast<std::size_t>(prev.oi)] != 1 || s.cw->dt != refs_[j].cw->dt)
                    break;
                bool inside = false;
                for (std::size_t q = j; q < k; ++q) inside = inside || refs_[q].oi == s.ri;
                if (inside) break;
                const py::array mid = array_at(prev.oi, "out");
                if (mid.ndim() != 4 || mid.shape(0) < 1) break;
                largest = std::max(largest, static_cast<std::size_t>(mid.nbytes() / mid.shape(0)));
                end = k + 1;
            }
            std::vector<PackedCall> calls{check(j)};
            std::vector<const ConvWeights*> cws{refs_[j].cw};
            if (end > j + 1 && largest > budget && band_step_ok(calls[0].g, calls[0].algo)) {
                largest = 0;  // again, over the steps checked (a step that is no band layer ends the run)
                for (std::size_t k = j + 1; k < end; ++k) {
                    PackedCall c = check(k);
                    if (!band_step_ok(c.g, c.algo)) break;
                    const std::size_t elem = refs_[k].cw->dt == py_checks::Dtype::f32 ? sizeof(float) : sizeof(double);
                    largest = std::max(largest, static_cast<std::size_t>(c.g.c * c.g.h * c.g.w) * elem);
                    calls.push_back(std::move(c));
                    cws.push_back(refs_[k].cw);
                }
            }
            // The run's output must not overlap what it reads while it writes (its first input and the
            // residuals): run step by step, each step's reads are done before the next one writes.
            bool banded = calls.size() > 1 && largest > budget;
            for (std::size_t q = 0; banded && q < calls.size(); ++q) {
                const py::array& out = calls.back().out;
                if (q == 0 && py_checks::extents_overlap(out, calls[0].x)) banded = false;
                if (!calls[q].residual.is_none() &&
                    py_checks::extents_overlap(out, py::reinterpret_borrow<py::array>(calls[q].residual)))
                    banded = false;
            }
            if (banded) {
                if (refs_[j].cw->dt == py_checks::Dtype::f32) run_banded<float>(cws, calls, budget);
                else run_banded<double>(cws, calls, budget);
                // The run's time is reported under its last step (its intermediates ran inside it).
                j += calls.size();
                seconds[j - 1] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                continue;
            }
            run_packed_call(*refs_[j].cw, calls[0]);
            seconds[j] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            ++j;
        }
        return seconds;
    }
};

}  // namespace

void register_conv_chain(py::module_& m) {
    m.def(
        "conv2d_chain",
        [](const py::list& steps, const py::list& arrays, long long band_bytes) { return ChainProgram(steps).run(arrays, band_bytes); },
        py::arg("steps"), py::arg("arrays"), py::arg("band_bytes") = -1,
        "conv2d_packed for each step (weights, x, out, residual or -1, stride, padding, dilation, algorithm) "
        "into arrays, or the op of an op step (kind, x, out, parameters...: chain_ops.hpp), or an int8 "
        "convolution (\"qconv\", x, out, skip or -1, parameters...: qconv_entry.hpp); runs of NHWC "
        "steps, each reading only the previous step's output, banded where an intermediate of one image "
        "outgrows band_bytes (< 0: half the L2; 0: never), their intermediates then not written; returns "
        "each step's seconds (a banded run's under its last step)");
    py::class_<ChainProgram>(m, "ChainProgram",
                             "conv2d_chain's steps parsed once; run(arrays, band_bytes=-1) as conv2d_chain(steps, arrays, "
                             "band_bytes), each step's checks kept while its arrays are the same memory in the same shapes "
                             "(not those of steps reading the first n_inputs arrays or writing the last)")
        .def(py::init<const py::list&, py::ssize_t>(), py::arg("steps"), py::arg("n_inputs") = 0)
        .def("run", &ChainProgram::run, py::arg("arrays"), py::arg("band_bytes") = -1)
        .def("bind", &ChainProgram::bind, py::arg("arrays"), py::arg("n_inputs"), py::arg("band_bytes") = -1,
             "the program's own arrays for run_direct / run_feed: arrays as run() takes them, whose inputs "
             "and output give only their shapes and dtypes; False (nothing bound) while another thread runs it")
        .def("run_direct", &ChainProgram::run_direct, py::arg("inputs"), py::arg("threads") = 0,
             "(output, seconds per step) of a run on the bound arrays, or None where that does not apply")
        .def("run_feed", &ChainProgram::run_feed, py::arg("feed"), py::arg("name"), py::arg("threads") = 0,
             "the output of a direct run of an InferenceSession feed {name: x}, or None; counted in stats()")
        .def("stats", &ChainProgram::stats, "(runs, seconds, seconds per step) of the run_feed calls");
}

}  // namespace kernels
