// Debian's libsuitesparse-dev installs klu.h as <suitesparse/klu.h> (no pkg-config file adds the
// directory); other layouts put it at the top level. This forwarding header, on CKLUShim's
// private header search path, finds both.
#ifndef SDQKLU_COMPAT_H
#define SDQKLU_COMPAT_H
#if __has_include(<suitesparse/klu.h>)
#include <suitesparse/klu.h>
#else
#include_next <klu.h>
#endif
#endif
