// SUNDIALS' sunlinsol_klu.h includes <klu.h>; Debian's libsuitesparse-dev installs it as
// <suitesparse/klu.h> (no pkg-config file to add the directory), other layouts put it at the
// top level. This forwarding header, on CSundialsShim's private header search path, finds both.
#ifndef SDQ_KLU_COMPAT_H
#define SDQ_KLU_COMPAT_H
#if __has_include(<suitesparse/klu.h>)
#include <suitesparse/klu.h>
#else
#include_next <klu.h>
#endif
#endif
