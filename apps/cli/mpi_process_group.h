// The process group of `grove run --distributed`: MPI when grove was built with it and runs
// under a launcher (mpirun, srun), else one process. For run_command.cpp and
// headless_command.cpp.
#pragma once

#include <memory>

#include "grove/workflows/pixel/distributed_export.h"

namespace grove::cli {

// True if this process was started by an MPI launcher (mpirun, mpiexec, srun with PMI/PMIx).
bool launched_by_mpi();

// The group of this run: MPI's world (initialised here, finalised when the group is destroyed)
// when launched by an MPI launcher, else a group of one. An error if launched with several
// ranks and grove was built without MPI.
Result<std::unique_ptr<ProcessGroup>> make_process_group();

}  // namespace grove::cli
