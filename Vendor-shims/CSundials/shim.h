// The SUNDIALS headers SwiftDiffEq uses: CVODES, the serial N_Vector, the dense matrix and
// dense linear solver, and the fixed-point nonlinear solver (all inside libsundials_cvodes).
#include <cvodes/cvodes.h>
#include <nvector/nvector_serial.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>
