// The SUNDIALS headers SwiftDiffEq uses: CVODES, the serial N_Vector, the dense and sparse
// matrices, the dense and SPGMR/SPFGMR linear solvers and the fixed-point nonlinear solver (all
// inside libsundials_cvodes). The KLU solver's header needs SuiteSparse's klu.h: CSundialsShim
// includes it privately and exposes `sdq_klu_create`.
#include <cvodes/cvodes.h>
#include <nvector/nvector_serial.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_sparse.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunlinsol/sunlinsol_spfgmr.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>
