// Bookkeeping of the native engine test: a group's case count, failures and worst error ratio,
// the per-case element comparison, and a portable random source (same numbers on every platform).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace kernels_test {

// One line of the report: a named set of cases.
struct Group {
    std::string name;
    long cases = 0, failed = 0;
    double worst = 0.0;              // max |got - ref| / bound over the random-data elements
    std::vector<std::string> notes;  // the first failures, printed under the line

    explicit Group(std::string n) : name(std::move(n)) {}
    void note(const std::string& s) {
        if (notes.size() < 4) notes.push_back(s);
    }
};

// Compares one case's results. Exact mode (small-integer data, every product and sum exact in
// T): got must equal ref. Otherwise |got - ref| <= tol * mag, mag being the sum of the absolute
// terms (|alpha| sum |a||b| + |beta||c| for GEMM), tol = c * eps growing with the reduction
// length: the netlib-style forward bound, met by any summation order.
class CaseCheck {
  public:
    CaseCheck(Group& g, std::string desc, bool exact, double tol) : g_(g), desc_(std::move(desc)), exact_(exact), tol_(tol) {}

    // Element `where` (i, j) of the result.
    void value(double got, double ref, double mag, long i, long j) {
        const double err = std::fabs(got - ref), bound = tol_ * mag;
        bool ok;
        if (exact_ || bound == 0.0) ok = got == ref;  // (a NaN never equals anything)
        else {
            ok = err <= bound;  // false for NaN
            if (ok && err / bound > worst_) worst_ = err / bound;
        }
        if (!ok) fail("at (" + std::to_string(i) + ", " + std::to_string(j) + "): got " + num(got) + ", want " +
                      num(ref) + (exact_ ? " exactly" : ", bound " + num(bound)));
    }
    // Memory outside the result (padding, trailing space) must keep its sentinel.
    void untouched(bool same, long offset) {
        if (!same) fail("wrote outside the result, at buffer offset " + std::to_string(offset));
    }
    void fail(const std::string& why) {
        if (ok_) g_.note(desc_ + ": " + why);  // the first bad element of a case says enough
        ok_ = false;
    }
    ~CaseCheck() {
        ++g_.cases;
        if (!ok_) ++g_.failed;
        if (worst_ > g_.worst) g_.worst = worst_;
    }

  private:
    static std::string num(double v) {
        char b[40];
        std::snprintf(b, sizeof b, "%.9g", v);
        return b;
    }
    Group& g_;
    std::string desc_;
    bool exact_;
    double tol_;
    bool ok_ = true;
    double worst_ = 0.0;
};

// splitmix64: a fixed sequence everywhere (std's distributions are implementation-defined).
struct Rng {
    std::uint64_t s;
    explicit Rng(std::uint64_t seed) : s(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-52 - 1.0; }  // [-1, 1)
    int integer(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1)); }
};

// A value representable in T: small integers (exact mode) or a uniform draw rounded to T.
template <typename T>
double draw(Rng& r, bool exact, int range) {
    return exact ? static_cast<double>(r.integer(-range, range)) : static_cast<double>(static_cast<T>(r.uniform()));
}

}  // namespace kernels_test
