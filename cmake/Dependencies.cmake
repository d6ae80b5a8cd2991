# Every dependency comes from Debian's packages (scripts/install-deps.sh installs them).
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(PkgConfig REQUIRED)
find_package(ZLIB REQUIRED)
find_package(PNG REQUIRED)
find_package(JPEG REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)

# OpenBLAS, the OpenMP build: called inside our own OpenMP regions it runs on one thread,
# outside them it uses them all, so the two never oversubscribe the cores.
set(NSAL_OPENBLAS_DIR "/usr/lib/x86_64-linux-gnu/openblas-openmp" CACHE PATH
    "Folder holding the OpenMP build of OpenBLAS")
find_library(NSAL_OPENBLAS_LIB NAMES openblas PATHS ${NSAL_OPENBLAS_DIR} NO_DEFAULT_PATH)
find_path(NSAL_CBLAS_INCLUDE cblas.h PATHS /usr/include/x86_64-linux-gnu/openblas-openmp
          NO_DEFAULT_PATH)
if(NOT NSAL_OPENBLAS_LIB OR NOT NSAL_CBLAS_INCLUDE)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: run scripts/install-deps.sh "
                      "(Debian package libopenblas-openmp-dev)")
endif()
add_library(nsal::blas INTERFACE IMPORTED)
target_link_libraries(nsal::blas INTERFACE ${NSAL_OPENBLAS_LIB})
target_include_directories(nsal::blas INTERFACE ${NSAL_CBLAS_INCLUDE})

add_library(nsal::hdf5 INTERFACE IMPORTED)
target_link_libraries(nsal::hdf5 INTERFACE ${HDF5_C_LIBRARIES})
target_include_directories(nsal::hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS})
target_compile_definitions(nsal::hdf5 INTERFACE ${HDF5_C_DEFINITIONS})

pkg_check_modules(MATIO REQUIRED IMPORTED_TARGET matio)
add_library(nsal::matio INTERFACE IMPORTED)
target_link_libraries(nsal::matio INTERFACE PkgConfig::MATIO)
pkg_check_modules(CAIRO REQUIRED IMPORTED_TARGET cairo)
add_library(nsal::cairo INTERFACE IMPORTED)
target_link_libraries(nsal::cairo INTERFACE PkgConfig::CAIRO)

if(NSAL_NATIVE)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()
