#include "CMPIShim.h"

MPI_Comm cmpi_comm_world(void) { return MPI_COMM_WORLD; }
MPI_Datatype cmpi_byte(void) { return MPI_BYTE; }
MPI_Datatype cmpi_double(void) { return MPI_DOUBLE; }
MPI_Datatype cmpi_int(void) { return MPI_INT; }
MPI_Datatype cmpi_uint64(void) { return MPI_UINT64_T; }
MPI_Op cmpi_op_sum(void) { return MPI_SUM; }
MPI_Op cmpi_op_max(void) { return MPI_MAX; }
MPI_Op cmpi_op_min(void) { return MPI_MIN; }
int cmpi_success(void) { return MPI_SUCCESS; }
int cmpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
int cmpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }

int cmpi_set_errors_return(MPI_Comm comm) { return MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN); }
