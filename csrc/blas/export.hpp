// Symbol visibility of libkernels_blas.so: everything is hidden (-fvisibility=hidden) except the API.
#pragma once

#define KERNELS_BLAS_API extern "C" __attribute__((visibility("default")))
