// CKLUShim: SuiteSparse KLU behind a few prefixed functions (`sdqklu_`), for
// SparseLinearAlgebra's SparseLUFactorization. No KLU type crosses into Swift; nothing prints;
// every failure is a status code.
#ifndef CKLUSHIM_H
#define CKLUSHIM_H

#include <stdint.h>

/// Status codes (KLU's own values where KLU has one).
enum {
  SDQKLU_OK = 0,
  /// A zero pivot: the matrix is singular (or numerically so).
  SDQKLU_SINGULAR = 1,
  SDQKLU_OUT_OF_MEMORY = -2,
  /// Bad arguments (a pattern that is not compressed sparse column, n < 0, a null pointer).
  SDQKLU_INVALID = -3,
  /// Integer overflow inside KLU.
  SDQKLU_TOO_LARGE = -4,
  /// sdqklu_solve before a successful sdqklu_factor.
  SDQKLU_NOT_FACTORED = -5
};

/// A symbolic analysis of one pattern plus, after sdqklu_factor, its numeric factors.
typedef struct sdqklu_handle sdqklu_handle;

/// Copies the compressed-sparse-column pattern (`column_starts[n + 1]`, `row_indices[nnz]`,
/// rows increasing in each column) and analyses it (BTF, AMD ordering). Returns NULL with
/// `*status` set on failure.
sdqklu_handle *sdqklu_analyze(int64_t n, const int64_t *column_starts, const int64_t *row_indices, int *status);

/// Factors the matrix with `values[nnz]` in the pattern's order. The first call (and any call
/// after a singular matrix) runs klu_factor (partial pivoting); later calls run klu_refactor
/// (the same pivot order, numeric work only) and fall back to klu_factor when the reciprocal
/// pivot-based condition estimate klu_rcond drops below `min_rcond`. `*refactored` is 1 when
/// the pivot order was reused, 0 when a full factorization ran.
int sdqklu_factor(sdqklu_handle *h, const double *values, double min_rcond, int *refactored);

/// Solves A x = b in place for `nrhs` right-hand sides stored one after another (`n` each).
int sdqklu_solve(sdqklu_handle *h, double *b, int64_t nrhs);

/// The nonzeros of L and U of the current factors (0 before a factorization).
int64_t sdqklu_factor_nonzeros(const sdqklu_handle *h);

/// Frees everything (NULL is allowed).
void sdqklu_free(sdqklu_handle *h);

#endif
