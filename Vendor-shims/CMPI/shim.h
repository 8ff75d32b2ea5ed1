// OpenMPI's C API (libopenmpi-dev). Only Vendor-shims/CMPIShim and Sources/EnsemblesMPI see it.
#include <mpi.h>
