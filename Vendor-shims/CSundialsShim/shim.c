// CSundialsShim implementation. See include/CSundialsShim.h.
#include "CSundialsShim.h"

#include <stdlib.h>
#include <string.h>

#include <sundials/sundials_config.h>
#include <sundials/sundials_context.h>
#include <sundials/sundials_logger.h>
// Finds SuiteSparse's klu.h through klu-compat/ (a header search path of this target).
#include <sunlinsol/sunlinsol_klu.h>

#ifndef SUNDIALS_VERSION_MAJOR
#error "sundials_config.h does not define SUNDIALS_VERSION_MAJOR"
#endif
#if SUNDIALS_VERSION_MAJOR < 6 || SUNDIALS_VERSION_MAJOR > 7
#error "CSundialsShim supports SUNDIALS 6.x and 7.x"
#endif

int sdq_sundials_version_major(void) { return SUNDIALS_VERSION_MAJOR; }

// MARK: Error log

enum { SDQ_FUNCTION_LEN = 96, SDQ_MESSAGE_LEN = 1024 };

struct sdq_error_log {
  int error_count;
  int last_code;
  char last_function[SDQ_FUNCTION_LEN];
  char last_message[SDQ_MESSAGE_LEN];
  int warning_count;
  char last_warning[SDQ_MESSAGE_LEN];
};

static void sdq_copy(char *dst, size_t cap, const char *src) {
  if (src == NULL) {
    dst[0] = '\0';
    return;
  }
  size_t n = strlen(src);
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

sdq_error_log *sdq_error_log_create(void) {
  return (sdq_error_log *)calloc(1, sizeof(sdq_error_log));
}

void sdq_error_log_free(sdq_error_log *log) { free(log); }

void sdq_error_log_clear(sdq_error_log *log) {
  if (log != NULL) memset(log, 0, sizeof(*log));
}

static void sdq_record(sdq_error_log *log, int code, int is_warning, const char *function,
                       const char *message) {
  if (log == NULL) return;
  if (is_warning) {
    log->warning_count += 1;
    sdq_copy(log->last_warning, SDQ_MESSAGE_LEN, message);
  } else {
    log->error_count += 1;
    log->last_code = code;
    sdq_copy(log->last_function, SDQ_FUNCTION_LEN, function);
    sdq_copy(log->last_message, SDQ_MESSAGE_LEN, message);
  }
}

int sdq_error_log_error_count(const sdq_error_log *log) { return log ? log->error_count : 0; }
int sdq_error_log_last_code(const sdq_error_log *log) { return log ? log->last_code : 0; }
const char *sdq_error_log_last_function(const sdq_error_log *log) {
  return log ? log->last_function : "";
}
const char *sdq_error_log_last_message(const sdq_error_log *log) {
  return log ? log->last_message : "";
}
int sdq_error_log_warning_count(const sdq_error_log *log) { return log ? log->warning_count : 0; }
const char *sdq_error_log_last_warning(const sdq_error_log *log) {
  return log ? log->last_warning : "";
}

#if SUNDIALS_VERSION_MAJOR == 6

// SUNDIALS 6: CVODE reports errors and warnings (code CV_WARNING) through a per-integrator
// handler; the default one prints to stderr.
static void sdq_cvode_handler(int error_code, const char *module, const char *function, char *msg,
                              void *user_data) {
  (void)module;
  sdq_record((sdq_error_log *)user_data, error_code, error_code == CV_WARNING, function, msg);
}

int sdq_cvode_capture_errors(void *cvode_mem, SUNContext ctx, sdq_error_log *log) {
  (void)ctx;
  if (cvode_mem == NULL || log == NULL) return -1;
  return CVodeSetErrHandlerFn(cvode_mem, sdq_cvode_handler, log);
}

#else

// SUNDIALS 7: errors go through the context's stack of handlers (the default one logs to
// stderr); warnings go to the logger, which sdq_context_create silences.
static void sdq_context_handler(int line, const char *func, const char *file, const char *msg,
                                SUNErrCode err_code, void *err_user_data, SUNContext sunctx) {
  (void)line;
  (void)file;
  (void)sunctx;
  sdq_record((sdq_error_log *)err_user_data, (int)err_code, 0, func, msg);
}

int sdq_cvode_capture_errors(void *cvode_mem, SUNContext ctx, sdq_error_log *log) {
  (void)cvode_mem;
  if (ctx == NULL || log == NULL) return -1;
  if (SUNContext_ClearErrHandlers(ctx) != SUN_SUCCESS) return -1;
  return SUNContext_PushErrHandler(ctx, sdq_context_handler, log) == SUN_SUCCESS ? 0 : -1;
}

#endif

// MARK: Context

SUNContext sdq_context_create(void) {
  SUNContext ctx = NULL;
#if SUNDIALS_VERSION_MAJOR == 6
  if (SUNContext_Create(NULL, &ctx) != 0) return NULL;
#else
  if (SUNContext_Create(SUN_COMM_NULL, &ctx) != SUN_SUCCESS) return NULL;
#endif
#if SUNDIALS_LOGGING_LEVEL > 0
  // A build with logging compiled in may write errors to stderr and warnings to stdout (7.x
  // defaults) or to files named in SUNLOGGER_* environment variables: send every level to the
  // null device instead. With SUNDIALS_LOGGING_LEVEL 0 (Debian's build) nothing is logged.
  SUNLogger logger = NULL;
  if (SUNContext_GetLogger(ctx, &logger) == 0 && logger != NULL) {
    SUNLogger_SetErrorFilename(logger, "/dev/null");
    SUNLogger_SetWarningFilename(logger, "/dev/null");
    SUNLogger_SetInfoFilename(logger, "/dev/null");
    SUNLogger_SetDebugFilename(logger, "/dev/null");
  }
#endif
  return ctx;
}

void sdq_context_free(SUNContext *ctx) {
  if (ctx == NULL || *ctx == NULL) return;
  SUNContext_Free(ctx);
  *ctx = NULL;
}

// MARK: Accessor macros

sunrealtype *sdq_nvector_data(N_Vector v) { return v ? NV_DATA_S(v) : NULL; }
sunindextype sdq_nvector_length(N_Vector v) { return v ? NV_LENGTH_S(v) : 0; }
sunrealtype *sdq_dense_data(SUNMatrix A) { return A ? SM_DATA_D(A) : NULL; }
sunindextype sdq_dense_rows(SUNMatrix A) { return A ? SM_ROWS_D(A) : 0; }
sunindextype sdq_dense_columns(SUNMatrix A) { return A ? SM_COLUMNS_D(A) : 0; }
sunrealtype *sdq_sparse_data(SUNMatrix A) { return A ? SM_DATA_S(A) : NULL; }
sunindextype *sdq_sparse_indexvals(SUNMatrix A) { return A ? SM_INDEXVALS_S(A) : NULL; }
sunindextype *sdq_sparse_indexptrs(SUNMatrix A) { return A ? SM_INDEXPTRS_S(A) : NULL; }
sunindextype sdq_sparse_capacity(SUNMatrix A) { return A ? SM_NNZ_S(A) : 0; }

// MARK: KLU

SUNLinearSolver sdq_klu_create(N_Vector y, SUNMatrix A, SUNContext ctx) {
  if (y == NULL || A == NULL || ctx == NULL) return NULL;
  return SUNLinSol_KLU(y, A, ctx);
}
