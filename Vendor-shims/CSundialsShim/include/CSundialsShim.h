// CSundialsShim: a small, prefixed (`sdq_`) C layer between SUNDIALS and Swift.
//
// It hides what differs between SUNDIALS 6.x and 7.x (creating a SUNContext, installing an
// error handler, silencing the logger) and exposes as functions the accessor macros Swift cannot
// import (NV_DATA_S, NV_LENGTH_S, SM_DATA_D, SM_ROWS_D, SM_COLUMNS_D). Everything else (CVodeCreate,
// CVodeInit, the setters and getters) has the same signature in both versions and is called
// directly from Swift through the CSundials module.
//
// Nothing here prints: errors and warnings reported by CVODE are stored in an `sdq_error_log`
// that the caller owns.
#ifndef SDQ_CSUNDIALSSHIM_H
#define SDQ_CSUNDIALSSHIM_H

#include <cvodes/cvodes.h>
#include <nvector/nvector_serial.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_sparse.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunlinsol/sunlinsol_spfgmr.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The SUNDIALS major version the shim was compiled against (6 or 7).
int sdq_sundials_version_major(void);

// MARK: Context

/// Creates a SUNContext with no communicator and a logger that writes nothing. Returns NULL on
/// failure. Free it with `sdq_context_free` after every object created with it.
SUNContext sdq_context_create(void);

/// Frees a context made by `sdq_context_create` (and the silent logger it owns) and sets
/// `*ctx` to NULL. Safe on NULL.
void sdq_context_free(SUNContext *ctx);

// MARK: Error capture

/// Where the error handler stores what CVODE reports: the last error (code, function, message)
/// and the last warning, with counts. Opaque; read it with the functions below.
typedef struct sdq_error_log sdq_error_log;

/// A new, empty log (NULL when out of memory). Free it with `sdq_error_log_free`.
sdq_error_log *sdq_error_log_create(void);

/// Frees a log. Safe on NULL. Free it only after the CVODE memory it is attached to.
void sdq_error_log_free(sdq_error_log *log);

/// Forgets what was recorded.
void sdq_error_log_clear(sdq_error_log *log);

/// Routes every error and warning of `cvode_mem` (and, on SUNDIALS 7, of `ctx`) into `log`
/// instead of stderr. Returns 0 on success.
int sdq_cvode_capture_errors(void *cvode_mem, SUNContext ctx, sdq_error_log *log);

/// Number of errors recorded (warnings excluded).
int sdq_error_log_error_count(const sdq_error_log *log);
/// Code of the last error (a CV_* flag on SUNDIALS 6, a SUNErrCode or CV_* flag on 7); 0 if none.
int sdq_error_log_last_code(const sdq_error_log *log);
/// Function that reported the last error ("" if none).
const char *sdq_error_log_last_function(const sdq_error_log *log);
/// Message of the last error ("" if none).
const char *sdq_error_log_last_message(const sdq_error_log *log);
/// Number of warnings recorded.
int sdq_error_log_warning_count(const sdq_error_log *log);
/// Message of the last warning ("" if none).
const char *sdq_error_log_last_warning(const sdq_error_log *log);

// MARK: Accessor macros as functions

/// NV_DATA_S: the contiguous data of a serial N_Vector.
sunrealtype *sdq_nvector_data(N_Vector v);
/// NV_LENGTH_S: the length of a serial N_Vector.
sunindextype sdq_nvector_length(N_Vector v);
/// SM_DATA_D: the column-major data of a dense SUNMatrix (leading dimension = rows).
sunrealtype *sdq_dense_data(SUNMatrix A);
/// SM_ROWS_D.
sunindextype sdq_dense_rows(SUNMatrix A);
/// SM_COLUMNS_D.
sunindextype sdq_dense_columns(SUNMatrix A);
/// SM_DATA_S: the nonzero values of a compressed-sparse-column SUNMatrix.
sunrealtype *sdq_sparse_data(SUNMatrix A);
/// SM_INDEXVALS_S: the row index of each nonzero.
sunindextype *sdq_sparse_indexvals(SUNMatrix A);
/// SM_INDEXPTRS_S: where each column starts in the two arrays above (columns + 1 entries).
sunindextype *sdq_sparse_indexptrs(SUNMatrix A);
/// SM_NNZ_S: the capacity (allocated nonzeros).
sunindextype sdq_sparse_capacity(SUNMatrix A);

// MARK: KLU

/// `SUNLinSol_KLU(y, A, ctx)`: SUNDIALS' interface to SuiteSparse's KLU for a CSC sparse `A`.
/// Its header needs SuiteSparse's `klu.h`, which Debian installs under `suitesparse/`: only
/// this shim's C file includes it. NULL on failure (wrong matrix type, out of memory).
SUNLinearSolver sdq_klu_create(N_Vector y, SUNMatrix A, SUNContext ctx);

#ifdef __cplusplus
}
#endif

#endif
