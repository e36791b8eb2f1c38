// Cache-size detection (sysconf, else sysfs, else a fallback).
#include "cpu_info.hpp"

#include <cstdio>
#include <cstring>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace kernels {

namespace {

// Size of the data/unified cache of the given level from sysfs, 0 when unknown.
std::size_t sysfs_cache(int level) {
    for (int idx = 0; idx < 8; ++idx) {
        char path[96];
        std::snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", idx);
        std::FILE* f = std::fopen(path, "r");
        if (!f) break;
        int lv = 0;
        const bool ok = std::fscanf(f, "%d", &lv) == 1;
        std::fclose(f);
        if (!ok || lv != level) continue;
        std::snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", idx);
        char type[32] = {0};
        if ((f = std::fopen(path, "r"))) {
            if (std::fscanf(f, "%31s", type) != 1) type[0] = 0;
            std::fclose(f);
        }
        if (std::strcmp(type, "Instruction") == 0) continue;
        std::snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
        if (!(f = std::fopen(path, "r"))) continue;
        unsigned long kb = 0;
        char unit = 'K';
        const int got = std::fscanf(f, "%lu%c", &kb, &unit);
        std::fclose(f);
        if (got >= 1) return kb * (unit == 'M' ? 1024ul * 1024ul : 1024ul);
    }
    return 0;
}

std::size_t detect(int level, std::size_t fallback) {
    long v = 0;
#if defined(_SC_LEVEL1_DCACHE_SIZE)
    if (level == 1) v = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    if (level == 2) v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (level == 3) v = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    if (v > 0) return static_cast<std::size_t>(v);
    const std::size_t s = sysfs_cache(level);
    return s ? s : fallback;
}

}  // namespace

CacheSizes cache_sizes() {
    static const CacheSizes sizes = {detect(1, 32u << 10), detect(2, 1u << 20), detect(3, 8u << 20)};
    return sizes;
}

}  // namespace kernels
