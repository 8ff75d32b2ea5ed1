// The MPI handles and constants Swift cannot import: OpenMPI defines MPI_COMM_WORLD, the
// datatypes and the operations as macros over the addresses of its predefined objects, and
// MPI_ERRORS_RETURN likewise. Each is exposed as a function with the prefix `cmpi_`.
#ifndef CMPI_SHIM_H
#define CMPI_SHIM_H

#include <mpi.h>

MPI_Comm cmpi_comm_world(void);
MPI_Datatype cmpi_byte(void);
MPI_Datatype cmpi_double(void);
MPI_Datatype cmpi_int(void);
MPI_Datatype cmpi_uint64(void);
MPI_Op cmpi_op_sum(void);
MPI_Op cmpi_op_max(void);
MPI_Op cmpi_op_min(void);
int cmpi_success(void);
int cmpi_thread_funneled(void);
int cmpi_max_error_string(void);

// Sets MPI_ERRORS_RETURN on `comm`, so that a failing call returns its error code instead of
// aborting the job (MPI_ERRORS_ARE_FATAL, the default).
int cmpi_set_errors_return(MPI_Comm comm);

#endif
